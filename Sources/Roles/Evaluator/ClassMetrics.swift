import Learning

/// One class's test metrics: `per_class` in `fedq train --json` and in a run's
/// `summary.json`, and the per-class columns of `history.csv`. On a diagnosis table the
/// malignant class's recall is the figure a clinician reads first; accuracy alone hides a
/// model that misses the rarer class.
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

    /// "malignant: recall 95.24%, precision 97.56%, F1 0.9639": recall first, the figure
    /// read first; the eval role's log and the report's summary both show it.
    public var text: String {
        String(format: "%@: recall %.2f%%, precision %.2f%%, F1 %.4f", name, recall * 100, precision * 100, f1)
    }

    /// One entry per class of `evaluation`, in class order, named by `names` (class i is
    /// `names[i]`); nil when the names do not match the evaluation's classes, so a wrong
    /// name is never printed beside a class's figures.
    public static func of(_ evaluation: Evaluation, names: [String]) -> [ClassMetrics]? {
        let confusion = evaluation.confusion
        guard names.count == confusion.classCount else { return nil }
        return names.indices.map {
            ClassMetrics(name: names[$0], precision: confusion.precision($0), recall: confusion.recall($0), f1: confusion.f1($0))
        }
    }
}
