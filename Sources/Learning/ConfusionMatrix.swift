/// Counts of (actual, predicted) class pairs, and the per-class and macro
/// scores derived from them. Rows are actual classes, columns predictions.
public struct ConfusionMatrix: Sendable, Equatable {
    public let classCount: Int
    /// Row-major `classCount x classCount` counts.
    public private(set) var counts: [Int]

    public init(classCount: Int) {
        self.classCount = classCount
        counts = Array(repeating: 0, count: classCount * classCount)
    }

    public init(actual: [Int], predicted: [Int], classCount: Int) {
        self.init(classCount: classCount)
        for (a, p) in zip(actual, predicted) { record(actual: a, predicted: p) }
    }

    public mutating func record(actual: Int, predicted: Int) {
        counts[actual * classCount + predicted] += 1
    }

    public subscript(actual: Int, predicted: Int) -> Int { counts[actual * classCount + predicted] }

    public var total: Int { counts.reduce(0, +) }

    public var accuracy: Double {
        let n = total
        return n == 0 ? 0 : Double((0..<classCount).reduce(0) { $0 + self[$1, $1] }) / Double(n)
    }

    /// Of the samples predicted as `c`, the fraction that are `c` (0 when none are predicted as `c`).
    public func precision(_ c: Int) -> Double {
        let predicted = (0..<classCount).reduce(0) { $0 + self[$1, c] }
        return predicted == 0 ? 0 : Double(self[c, c]) / Double(predicted)
    }

    /// Of the samples of class `c`, the fraction predicted as `c` (0 when there are none).
    public func recall(_ c: Int) -> Double {
        let actual = (0..<classCount).reduce(0) { $0 + self[c, $1] }
        return actual == 0 ? 0 : Double(self[c, c]) / Double(actual)
    }

    /// Harmonic mean of precision and recall (0 when both are 0), as scikit-learn.
    public func f1(_ c: Int) -> Double {
        let p = precision(c)
        let r = recall(c)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// Unweighted mean of the per-class F1 scores: on skewed test sets it
    /// shows a model that ignores rare classes, which accuracy hides.
    public var macroF1: Double {
        classCount == 0 ? 0 : (0..<classCount).reduce(0) { $0 + f1($1) } / Double(classCount)
    }
}
