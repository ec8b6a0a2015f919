import AMQP
import Aggregation
import ArgumentParser
import Foundation
import Learning
import Pipeline
import Synchronization
import Wire

/// `fedq simulate`: the whole asynchronous pipeline in one process, with a simulated
/// fleet of clients on real MNIST, on the embedded broker or on RabbitMQ.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run clients, aggregator workers, coordinator and evaluator in one process until a target accuracy.",
        discussion: """
            The defaults reach 97% MNIST test accuracy: 100 IID clients, 10 training at once, \
            FedBuff with K=10 and polynomial staleness weights, int8 updates.
            """
    )

    @Option(help: "Number of simulated clients (each gets one data partition).")
    var clients = 100
    @Option(help: "Clients training at the same time (FedBuff's concurrency).")
    var concurrency = 10
    @Option(help: "Data split: iid, shards[:K], dirichlet:ALPHA or quantity:ALPHA.")
    var partition = "iid"
    @Option(help: "Architecture: mlp or cnn.")
    var model = "mlp"
    @Option(help: "Local epochs per client update.")
    var localEpochs = 1
    @Option(help: "Local mini-batch size.")
    var batch = 10
    @Option(help: "Client SGD learning rate.")
    var lr: Float = 0.1
    @Option(help: "Client SGD momentum.")
    var momentum: Float = 0
    @Option(help: "fedbuff[:K], fedasync[:ALPHA] or fedavg[:M] (synchronous rounds of M clients).")
    var strategy = "fedbuff"
    @Option(help: "Updates FedBuff buffers (or FedAvg clients per round) when the strategy names none.")
    var buffer = 10
    @Option(help: "Staleness weight: const, poly:A, hinge:A,B or exp:A.")
    var staleness = "poly:0.5"
    @Option(help: "Drop updates more than this many versions stale.")
    var maxStaleness: Int?
    @Flag(help: "Also weigh each update by its client's sample count.")
    var weighBySamples = false
    @Option(help: "Server optimizer: sgd:LR, momentum:LR,BETA or adam:LR,B1,B2,EPS.")
    var serverOpt = "sgd:1.0"
    @Option(help: "Update codec chain, e.g. fp32, fp16, int8, topk:0.01+int8, int8+deflate.")
    var codec = "int8"
    @Option(help: "Aggregator workers (competing consumers).")
    var workers = 2
    @Option(help: "Client speeds: none, lognormal:SIGMA or stragglers:FRACTIONxFACTOR.")
    var slowdown = "none"
    @Option(help: "Probability that a client vanishes mid-training.")
    var dropout = 0.0
    @Option(help: "Simulated device time of one local training in ms, before the slowdown (0: this machine's compute time).")
    var deviceMs = 0
    @Option(help: "Stop once the test accuracy reaches this.")
    var targetAccuracy = 0.97
    @Option(help: "Stop after this many seconds whatever the accuracy.")
    var maxSeconds = 120.0
    @Option(help: "Stop after this many client updates were published.")
    var maxUpdates: Int?
    @Option(help: "Seed for data split, initialisation and client order.")
    var seed: UInt64 = 1
    @Option(help: "Threads that train clients.")
    var threads = 2
    @Option(help: "Minimum milliseconds between two evaluations.")
    var evalIntervalMs = 200
    @Option(help: "Directory with the four MNIST gzip IDX files.")
    var data = "data/mnist"
    @Option(help: """
        Broker: 'embedded' (in-process, the default) or a RabbitMQ URL, \
        amqp[s]://user:pass@host:port/vhost; the run purges the pipeline's queues on that vhost first.
        """)
    var broker = "embedded"
    @Option(help: "Write summary.json, history.csv and report.html here.")
    var out = "runs/simulate"

    func validate() throws {
        _ = try makeConfig()
    }

    /// Parses every option into typed settings; a bad value is a `ValidationError` naming its flag.
    func makeConfig() throws -> SimulationConfig {
        var config = SimulationConfig()
        func check(_ condition: Bool, _ message: String) throws {
            if !condition { throw ValidationError(message) }
        }
        func parse<T>(_ flag: String, _ body: () throws -> T) throws -> T {
            do { return try body() } catch { throw ValidationError("--\(flag): \(error)") }
        }
        try check(clients > 0, "--clients must be positive")
        try check(concurrency > 0, "--concurrency must be positive")
        try check(localEpochs > 0, "--local-epochs must be positive")
        try check(batch > 0, "--batch must be positive")
        try check(workers > 0, "--workers must be positive")
        try check(threads > 0, "--threads must be positive")
        try check((0..<1).contains(dropout), "--dropout must be in [0, 1)")
        try check(deviceMs >= 0, "--device-ms must be >= 0")
        try check((0...1).contains(targetAccuracy), "--target-accuracy must be in [0, 1]")
        try check(maxSeconds > 0, "--max-seconds must be positive")
        try check(maxStaleness.map { $0 >= 0 } ?? true, "--max-staleness must be >= 0")
        _ = try brokerConfiguration()
        config.clients = clients
        config.concurrency = concurrency
        config.partition = try parse("partition") { try PartitionScheme(parsing: partition) }
        config.model = try parse("model") { try ModelSpec.named(model) }
        config.localEpochs = localEpochs
        config.batchSize = batch
        config.learningRate = lr
        config.momentum = momentum
        _ = try parse("lr") { try SGD(learningRate: lr, momentum: momentum) }
        let named = strategy.contains(":") ? strategy : "\(strategy):\(strategy == "fedasync" ? "0.6" : String(buffer))"
        config.strategy = try parse("strategy") { try AggregationStrategy.Kind(parsing: named) }
        config.staleness = try parse("staleness") { try StalenessFunction(parsing: staleness) }
        config.maxStaleness = maxStaleness
        config.weighBySamples = weighBySamples
        config.serverOptimizer = try parse("server-opt") { try ServerOptimizer.Rule(parsing: serverOpt) }
        config.codec = try parse("codec") { try CodecSpec(parsing: codec) }
        config.workers = workers
        config.slowdown = try parse("slowdown") { try SlowdownSpec(parsing: slowdown) }
        config.dropout = dropout
        config.deviceTime = .milliseconds(deviceMs)
        config.targetAccuracy = targetAccuracy
        config.maxSeconds = maxSeconds
        config.maxUpdates = maxUpdates
        config.seed = seed
        config.trainingThreads = threads
        config.evaluationInterval = .milliseconds(evalIntervalMs)
        config.dataDirectory = data
        return config
    }

    /// Nil for the embedded broker.
    /// - Throws: `ValidationError` for a URL the AMQP module cannot parse.
    func brokerConfiguration() throws -> AMQPConfiguration? {
        guard broker != "embedded" else { return nil }
        do {
            var configuration = try AMQPConfiguration(url: broker)
            configuration.connectionName = "fedq simulate"
            return configuration
        } catch {
            throw ValidationError("--broker: 'embedded' or an amqp:// or amqps:// URL: \(error)")
        }
    }

    func run() async throws {
        let config = try makeConfig()
        let line = ProgressBox()
        let result: SimulationResult
        let simulation = Simulation(config: config)
        let roles = "\(config.clients) clients, \(config.strategy), codec \(config.codec), \(config.workers) workers"
        if let configuration = try brokerConfiguration() {
            print("simulating \(roles) on RabbitMQ at \(configuration.redactedURL)")
            result = try await simulation.run(connect: { try await AMQPTransport(configuration: configuration) }) {
                line.show($0)
            }
        } else {
            print("simulating \(roles) on the embedded broker")
            let broker = EmbeddedBroker()
            result = try await simulation.run(connect: { broker.connect() }) { line.show($0) }
            await broker.close()
        }
        line.finish()
        let report = try result.write(to: out)
        let summary = result.summary
        print(String(
            format: "%@ %.2f%% in %.2f s: %d versions, %d updates applied of %d published (%d stale, %d rejected), mean staleness %.2f",
            summary.reachedTarget ? "reached" : "did not reach", summary.targetAccuracy * 100,
            summary.secondsToTarget ?? summary.seconds, Int(summary.modelVersions), summary.updatesApplied,
            summary.updatesPublished, summary.updatesDroppedStale, summary.updatesRejected, summary.meanStaleness))
        print(String(format: "final accuracy %.2f%%, best %.2f%%", summary.finalAccuracy * 100, summary.bestAccuracy * 100))
        print("report: \(report)")
    }
}

/// The live progress line, shared by the callbacks of the roles.
final class ProgressBox: Sendable {
    private let line = Mutex(ProgressLine())

    func show(_ progress: Simulation.Progress) {
        let accuracy = progress.accuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "–"
        let text = String(
            format: "v%llu  acc %@  %.0f upd/s  staleness %.2f  %d applied  %.1fs",
            progress.version, accuracy, progress.updatesPerSecond, progress.meanStaleness, progress.applied, progress.elapsed)
        line.withLock {
            if progress.evaluated {
                $0.milestone(String(format: "v%llu  acc %@  %d applied  %.1fs", progress.version, accuracy, progress.applied, progress.elapsed))
            } else {
                $0.update(text)
            }
        }
    }

    func finish() {
        line.withLock { $0.finish() }
    }
}
