import ArgumentParser
import CLISupport
import Learning
import Messaging
import RabbitMQTransport
import Report
import Roles
import Simulation
import Wire

/// How simulated clients are made and behave: the same flags on `fedq simulate`
/// and `fedq fleet`, so a fleet run over RabbitMQ repeats a simulation's clients.
///
/// Numeric options parse a leading minus as their value (`--clients -5`), so the error
/// names the option and the real problem instead of a missing value.
struct FleetOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Number of simulated clients (each gets one data partition).")
    var clients = 100
    @Option(parsing: .unconditional, help: "Clients training at the same time (FedBuff's concurrency).")
    var concurrency = 10
    @Option(help: "Data split: iid, shards[:K], dirichlet:ALPHA, quantity:ALPHA, or on a --dataset table column:NAME (one client per value of column NAME; --clients must equal their number).")
    var partition = "iid"
    @Option(parsing: .unconditional, help: "Local epochs per client update.")
    var localEpochs = 1
    @Option(parsing: .unconditional, help: "Local mini-batch size.")
    var batch = 10
    @Option(parsing: .unconditional, help: "Client SGD learning rate.")
    var lr: Float = 0.1
    @Option(parsing: .unconditional, help: "Client SGD momentum.")
    var momentum: Float = 0
    @Option(parsing: .unconditional, help: "Decay the client learning rate over model versions: lr × N / (N + version), halved by version N (default: constant).")
    var lrDecay: Int?
    @Option(help: "Client speeds: none, lognormal:SIGMA or stragglers:FRACTIONxFACTOR.")
    var slowdown = "none"
    @Option(parsing: .unconditional, help: "Probability that a client vanishes mid-training.")
    var dropout = 0.0
    @Option(parsing: .unconditional, help: "Simulated device time of one local training in ms, before the slowdown (0: this machine's compute time).")
    var deviceMs = 0
    @Option(parsing: .unconditional, help: "Stop after this many client updates were published.")
    var maxUpdates: Int?
    @Option(parsing: .unconditional, help: "Threads that train clients.")
    var threads = 2
    @Option(help: "How a top-k client keeps its error-feedback residual: int8 (a quarter of the memory) or fp32 (exact).")
    var residual = "int8"
    @OptionGroup(title: "Local differential privacy") var localPrivacy: LocalPrivacyOptions

    func validate() throws {
        var config = SimulationConfig()
        try apply(to: &config)
    }

    /// Writes these options into `config`.
    /// - Throws: `ValidationError` naming the flag of a bad value.
    func apply(to config: inout SimulationConfig) throws {
        func check(_ condition: Bool, _ message: String) throws {
            if !condition { throw ValidationError(message) }
        }
        try check(clients > 0, "--clients must be positive")
        try check(concurrency > 0, "--concurrency must be positive")
        try check(localEpochs > 0, "--local-epochs must be positive")
        try check(batch > 0, "--batch must be positive")
        try check(threads > 0, "--threads must be positive")
        try check((0..<1).contains(dropout), "--dropout must be in [0, 1)")
        try check(deviceMs >= 0, "--device-ms must be >= 0")
        try check(maxUpdates.map { $0 > 0 } ?? true, "--max-updates must be positive")
        try check(lr.isFinite && lr > 0, "--lr must be a positive number, got \(lr)")
        try check((0..<1).contains(momentum), "--momentum must be in [0, 1), got \(momentum)")
        try check(lrDecay.map { $0 > 0 } ?? true, "--lr-decay must be a positive version, got \(lrDecay ?? 0)")
        config.clients = clients
        config.concurrency = concurrency
        do { config.partition = try PartitionScheme(parsing: partition) } catch { throw ValidationError("--partition: \(error)") }
        do { config.slowdown = try SlowdownSpec(parsing: slowdown) } catch { throw ValidationError("--slowdown: \(error)") }
        config.localEpochs = localEpochs
        config.batchSize = batch
        config.learningRate = lr
        config.momentum = momentum
        config.learningRateDecay = lrDecay
        config.dropout = dropout
        config.deviceTime = .milliseconds(deviceMs)
        config.maxUpdates = maxUpdates
        config.trainingThreads = threads
        guard let storage = ErrorFeedback.Storage(rawValue: residual) else {
            throw ValidationError("--residual must be int8 or fp32, got '\(residual)'")
        }
        config.residual = storage
        config.localPrivacy = try localPrivacy.settings()
        config.localPrivacyFile = localPrivacy.ldpBudgetFile
    }
}

extension SharedOptions {
    /// Writes these options into `config`.
    func apply(to config: inout SimulationConfig) throws {
        config.model = try modelSpec()
        config.chunkSize = chunks.chunkSize
        config.strategy = try strategyKind()
        config.staleness = try stalenessFunction()
        config.maxStaleness = maxStaleness
        config.weighBySamples = weighBySamples
        config.serverOptimizer = try serverOptimizer()
        config.codec = try codecSpec()
        config.seed = seed
        config.dataDirectory = data
        config.table = datasetOptions.table
        let data = try datasetOptions.shape()
        config.classNames = data.classNames
        config.tableColumns = data.columns
        // Run after `FleetOptions.apply`, which set the partition and the client count.
        try datasetOptions.check(partition: config.partition, clients: config.clients)
        config.publicStandardization = try datasetOptions.publicStandardization()
        // Simulated clients are the population unless --dp-population says otherwise.
        config.privacy = try privacy.settings(population: config.clients)
        try datasetOptions.checkPrivacy(enabled: config.privacy != nil)
        try datasetOptions.checkPrivacy(enabled: config.localPrivacy != nil, option: "--ldp-clip")
        config.defences = try defences.defences()
        config.aggregateRule = try aggregateRule()
        config.shards = try shards()
    }
}
