/// One class's test metrics: `per_class` in `fedq train --json` and in a run's
/// `summary.json`. On a diagnosis table the malignant class's recall is the figure a
/// clinician reads first; accuracy alone hides a model that misses the rarer class.
public struct ClassMetrics: Codable, Sendable, Equatable {
    public var name: String
    public var precision: Double
    public var recall: Double
    public var f1: Double

    public init(name: String, precision: Double, recall: Double, f1: Double) {
        self.name = name
        self.precision = precision
        self.recall = recall
        self.f1 = f1
    }

    /// One entry per class, in class order.
    public static func table(names: [String], precision: [Double], recall: [Double], f1: [Double]) -> [ClassMetrics] {
        names.indices.map { ClassMetrics(name: names[$0], precision: precision[$0], recall: recall[$0], f1: f1[$0]) }
    }
}
