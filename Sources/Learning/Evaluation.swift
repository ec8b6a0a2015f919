/// Test-set metrics of one model version.
public struct Evaluation: Sendable, Equatable {
    /// Mean softmax cross-entropy.
    public var loss: Double
    public var confusion: ConfusionMatrix

    public var accuracy: Double { confusion.accuracy }
    public var macroF1: Double { confusion.macroF1 }
    public var precision: [Double] { (0..<confusion.classCount).map(confusion.precision) }
    public var recall: [Double] { (0..<confusion.classCount).map(confusion.recall) }
    public var f1: [Double] { (0..<confusion.classCount).map(confusion.f1) }
}
