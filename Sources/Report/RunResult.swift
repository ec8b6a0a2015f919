import Roles
import FedCore

/// What a finished run hands back (a simulation, or a deployment read back from its
/// role directories): the figures, the evaluated history and the series the report plots.
public struct RunResult: Sendable {
    public init(
        summary: RunSummary, history: [EvaluationRecord], throughput: [(x: Double, y: Double)], stalenessHistogram: [Int],
        settings: [(String, String)]
    ) {
        self.summary = summary
        self.history = history
        self.throughput = throughput
        self.stalenessHistogram = stalenessHistogram
        self.settings = settings
    }

    public var summary: RunSummary
    public var history: [EvaluationRecord]
    /// (seconds, updates applied per second) sampled while running.
    public var throughput: [(x: Double, y: Double)]
    public var stalenessHistogram: [Int]
    public var settings: [(String, String)]
    /// A table federation's standardisation, as the final model version carried it (nil:
    /// MNIST, or the run ended before the clients' statistics quorum).
    public var standardization: Standardization?
    /// The version scored last, as the model-version message the coordinator published it
    /// (docs/wire-format.md; fp32, with its standardisation section): `model.msg`.
    public var finalModelMessage: [UInt8]?
    /// The report's title: a simulation's, or a deployment's.
    public var title = "FedQueue simulation"
}
