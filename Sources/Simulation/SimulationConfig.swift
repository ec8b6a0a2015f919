import Aggregation
import FedCore
import Learning
import Privacy
import Messaging
import Report
import Roles
import Wire

/// Everything a `fedq simulate` run is made of, already parsed and checked.
public struct SimulationConfig: Sendable {
    public var model: ModelSpec = .mlp
    public var dataDirectory = "data/mnist"
    /// A CSV table to learn from instead of MNIST (`--dataset`).
    public var table: TableSource?
    /// The table's class names, for the per-class figures of `summary.json`, `history.csv`
    /// and the report (nil on MNIST).
    public var classNames: [String]?
    /// The table's label and feature names, for `--partition column:NAME` (nil on MNIST).
    public var tableColumns: TableColumns?
    /// A table's scaling from public bounds (`--feature-ranges`): the coordinator publishes it
    /// with the first version and no client sends statistics. Nil: MNIST, or statistics.
    public var publicStandardization: Standardization?
    /// A table federation's coordinator freezes the standardisation once this many clients'
    /// statistics arrived: in one process, every client's (`--clients`); nil on MNIST and
    /// with `publicStandardization`.
    public var statisticsQuorum: Int? { table == nil || publicStandardization != nil ? nil : clients }
    /// Where the coordinator's standardisation comes from (nil on MNIST).
    public var tableScaling: TableScaling? {
        guard table != nil else { return nil }
        return publicStandardization.map { .publicBounds($0) } ?? statisticsQuorum.map { .statistics(quorum: $0) }
    }
    public var clients = 100
    public var concurrency = 10
    public var partition: PartitionScheme = .iid
    public var localEpochs = 1
    public var batchSize = 10
    public var learningRate: Float = 0.1
    public var momentum: Float = 0
    /// The version by which the client learning rate has halved (`LearningRateDecay`); nil: constant.
    public var learningRateDecay: Int?
    public var strategy: AggregationStrategy.Kind = .default
    public var staleness: StalenessFunction = .polynomial(a: 0.5)
    public var maxStaleness: Int?
    public var weighBySamples = false
    public var serverOptimizer: ServerOptimizer.Rule = .default
    public var codec: CodecSpec = .fp32
    /// How top-k clients keep their error-feedback residual (`--residual`).
    public var residual: ErrorFeedback.Storage = .int8
    public var workers = 2
    /// The updates path (`--update-shards`, `--updates-queue`): on a stream path each
    /// worker claims shards (`StreamWorker`), so give it at least as many shards as workers.
    public var shards: UpdateShards = .single
    public var slowdown: SlowdownSpec = .none
    public var dropout = 0.0
    /// The shortest local training of a simulated device (see `FleetSettings.deviceTime`).
    public var deviceTime: Duration = .zero
    public var targetAccuracy = 0.97
    public var maxSeconds = 120.0
    /// Stop after this many client updates were published (nil: no bound), for runs
    /// compared "at equal updates".
    public var maxUpdates: Int?
    public var seed: UInt64 = 1
    /// Threads that train clients (the rest of the machine moves messages and evaluates).
    public var trainingThreads = 2
    /// How often the evaluator may evaluate, so evaluation does not starve training.
    public var evaluationPacing = EvaluationPacing(minimumInterval: .milliseconds(200))
    /// Evaluate on the first N test images only (nil: all 10,000), for quick tests.
    public var testSubset: Int?
    /// Use the first N training images only (nil: all 60,000), for quick tests.
    public var trainSubset: Int?
    public var flushInterval: Duration = .milliseconds(20)
    /// Differential privacy (nil: off): workers clip, the coordinator adds noise and accounts.
    public var privacy: DifferentialPrivacy?
    /// Local differential privacy (nil: off): each client clips and noises its own delta
    /// before encoding it, and keeps its own books (`LocalPrivacyBooks`).
    public var localPrivacy: LocalDifferentialPrivacy?
    /// Where the clients' local privacy books are kept across restarts (`--ldp-budget-file`;
    /// nil: in memory, for this process only).
    public var localPrivacyFile: String?
    /// The workers' defences against hostile updates (on by default).
    public var defences: UpdateDefences = .default
    /// One malicious client sending this attack alongside the fleet (nil: none); for the
    /// attack benchmark and its tests.
    public var attack: AttackSpec?
    /// How an aggregate's updates combine (`--aggregate`).
    public var aggregateRule: AggregateRule = .mean
    /// Messages longer than this travel as chunks (`--chunk-size`; docs/wire-format.md, "Chunks").
    public var chunkSize = Chunk.defaultChunkSize

    public init() {}

    /// The settings as shown in the report and the summary.
    public var settings: [(String, String)] {
        [
            ("dataset", table.map { "\($0.path), label \($0.label), \($0.testFraction) held out" } ?? "MNIST"),
            ("model", "\(model.name) (\(model.parameterCount) parameters)"), ("clients", "\(clients)"),
            ("concurrency", "\(concurrency)"), ("partition", partition.description),
            ("local epochs", "\(localEpochs)"), ("batch", "\(batchSize)"), ("learning rate", "\(learningRate)"),
            ("momentum", "\(momentum)"), ("learning rate decay", learningRateDecay.map { "halved by version \($0)" } ?? "none"), ("strategy", strategy.description), ("aggregate", aggregateRule.description), ("staleness", "\(staleness)"),
            ("max staleness", maxStaleness.map(String.init) ?? "none"), ("weigh by samples", "\(weighBySamples)"),
            ("server optimizer", serverOptimizer.description), ("codec", codec.description), ("residual", codec.topkFraction == nil ? "none" : residual.description),
            ("workers", "\(workers)"), ("slowdown", slowdown.description), ("dropout", "\(dropout)"),
            ("device time", deviceTime == .zero ? "this machine's" : "\(deviceTime)"),
            ("target accuracy", "\(targetAccuracy)"), ("max seconds", "\(maxSeconds)"),
            ("max updates", maxUpdates.map(String.init) ?? "none"), ("seed", "\(seed)"),
            ("training threads", "\(trainingThreads)"),
            ("evaluation", "at least \(evaluationPacing.minimumInterval) apart, at most \(Int(evaluationPacing.share * 100))% of a core"),
            ("test samples", testSubset.map(String.init) ?? "all"), ("train samples", trainSubset.map(String.init) ?? "all"),
            ("differential privacy", privacy.map {
                "clip \($0.clipNorm), noise multiplier \($0.noiseMultiplier), δ \($0.delta), population \($0.population)"
                    + ($0.targetEpsilon.map { ", target ε \($0)" } ?? "")
            } ?? "off"),
            ("local differential privacy", localPrivacy.map {
                "per \($0.unit.rawValue), clip \($0.clipNorm), noise multiplier \($0.noiseMultiplier), δ \($0.delta) per client"
                    + ($0.targetEpsilon.map { ", target ε \($0) per client" } ?? "")
            } ?? "off"),
            ("defences", defences.description), ("attack", attack?.description ?? "none"),
        ]
    }
}
