import AMQP
import Aggregation
import Foundation
import ArgumentParser
import Learning
import Pipeline
import Telemetry
import Wire

/// The options every part of a deployment must agree on, with the same flags on
/// `fedq simulate` and on each role command, and each also read from the
/// environment (`FEDQ_BROKER`, `FEDQ_MODEL`, …; see `EnvironmentDefaults`), so one
/// environment file configures every container of a fleet. A role ignores the
/// ones it has no use for (a worker never encodes, so `--codec` is moot there).
struct SharedOptions: ParsableArguments {
    @Option(help: """
        RabbitMQ URL, amqp[s]://user:pass@host:port/vhost. Roles default to \
        amqp://guest:guest@127.0.0.1:5672/%2F; simulate to 'embedded' (in-process).
        """)
    var broker: String?
    @Option(help: "Architecture: mlp or cnn.")
    var model = "mlp"
    @Option(help: "Update codec chain, e.g. fp32, fp16, int8, topk:0.01+int8, int8+deflate.")
    var codec = "int8"
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
    @Option(help: "Seed for data split, initialisation and client order.")
    var seed: UInt64 = 1
    @Option(help: "Directory with the four MNIST gzip IDX files.")
    var data = "data/mnist"
    @Option(help: "Roles: keep trying to (re)connect to the broker for this many seconds before giving up.")
    var reconnectFor = 300.0
    @Option(help: "Serve Prometheus metrics on this port (GET /metrics); 0 picks a free one.")
    var metricsPort: Int?
    @Option(help: "Address the metrics port listens on (0.0.0.0 in a container).")
    var metricsAddress = "127.0.0.1"

    /// The flags `EnvironmentDefaults` fills from `FEDQ_*` variables.
    static let environmentFlags = [
        "broker", "model", "codec", "strategy", "buffer", "staleness", "max-staleness", "weigh-by-samples",
        "server-opt", "seed", "data", "reconnect-for", "metrics-port", "metrics-address",
    ]

    static let defaultRoleBroker = "amqp://guest:guest@127.0.0.1:5672/%2F"

    func validate() throws {
        guard metricsPort.map({ (0...65_535).contains($0) }) ?? true else { throw ValidationError("--metrics-port must be in 0...65535") }
        guard reconnectFor >= 0 else { throw ValidationError("--reconnect-for must be >= 0") }
        guard buffer > 0 else { throw ValidationError("--buffer must be positive") }
        guard maxStaleness.map({ $0 >= 0 }) ?? true else { throw ValidationError("--max-staleness must be >= 0") }
        _ = try modelSpec()
        _ = try codecSpec()
        _ = try strategyKind()
        _ = try stalenessFunction()
        _ = try serverOptimizer()
    }

    func modelSpec() throws -> ModelSpec { try parse("model") { try ModelSpec.named(model) } }
    func codecSpec() throws -> CodecSpec { try parse("codec") { try CodecSpec(parsing: codec) } }
    func stalenessFunction() throws -> StalenessFunction { try parse("staleness") { try StalenessFunction(parsing: staleness) } }
    func serverOptimizer() throws -> ServerOptimizer.Rule { try parse("server-opt") { try ServerOptimizer.Rule(parsing: serverOpt) } }

    func strategyKind() throws -> AggregationStrategy.Kind {
        let named = strategy.contains(":") ? strategy : "\(strategy):\(strategy == "fedasync" ? "0.6" : String(buffer))"
        return try parse("strategy") { try AggregationStrategy.Kind(parsing: named) }
    }

    /// The staleness policy workers apply (synchronous FedAvg forces its own).
    func stalenessPolicy() throws -> StalenessPolicy {
        AggregationStrategy(try strategyKind()).stalenessPolicy(
            StalenessPolicy(function: try stalenessFunction(), maxStaleness: maxStaleness, weighsBySamples: weighBySamples))
    }

    /// Starts serving metrics when `--metrics-port` was given (and says where).
    func startMetrics(role: String) throws -> MetricsServer? {
        guard let metricsPort else { return nil }
        let server = try Telemetry.serve(port: metricsPort, address: metricsAddress)
        FileHandle.standardError.write(Data("\(role): metrics on http://\(metricsAddress):\(server.port)/metrics\n".utf8))
        return server
    }

    /// The broker for a role command (nil `--broker` means the local default).
    func roleBroker(name: String) throws -> AMQPConfiguration {
        guard let configuration = try brokerConfiguration(name: name, default: Self.defaultRoleBroker) else {
            throw ValidationError("--broker: a role needs RabbitMQ, an amqp:// or amqps:// URL")
        }
        return configuration
    }

    /// Nil for 'embedded'.
    /// - Throws: `ValidationError` for a URL the AMQP module cannot parse.
    func brokerConfiguration(name: String, default fallback: String) throws -> AMQPConfiguration? {
        let url = broker ?? fallback
        guard url != "embedded" else { return nil }
        do {
            var configuration = try AMQPConfiguration(url: url)
            configuration.connectionName = name
            return configuration
        } catch {
            throw ValidationError("--broker: 'embedded' or an amqp:// or amqps:// URL: \(error)")
        }
    }

    private func parse<T>(_ flag: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw ValidationError("--\(flag): \(error)") }
    }
}
