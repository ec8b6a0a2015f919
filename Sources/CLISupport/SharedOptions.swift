import Aggregation
import ArgumentParser
import Foundation
import Learning
import Logging
import Messaging
import RabbitMQTransport
import Roles
import Telemetry
import Wire

/// The options every part of a deployment must agree on, with the same flags on
/// `fedq simulate` and on each role command, and each also read from the
/// environment (`FEDQ_BROKER`, `FEDQ_MODEL`, …; see `EnvironmentDefaults`), so one
/// environment file configures every container of a fleet. A role ignores the
/// ones it has no use for (a worker never encodes, so `--codec` is moot there).
public struct SharedOptions: ParsableArguments {
    @Option(help: """
        RabbitMQ URL, amqp[s]://user[:pass]@host:port/vhost, or a cluster's node URLs \
        separated by commas (each connection goes to one node, in a shuffled order, and \
        to the next when its node is lost). Roles need one, naming the role's own \
        identity (docs/security.md); simulate defaults to 'embedded' (in-process). \
        amqps:// takes ?cacertfile=&certfile=&keyfile=&auth_mechanism=external (docs/tls.md).
        """)
    public var broker: String?
    @Option(help: """
        File holding the broker password of --broker's user (one line), so the password \
        appears in no command line or environment; it replaces any password in the URL.
        """)
    public var brokerPasswordFile: String?
    @OptionGroup(title: "Model (docs/models.md)")
    public var modelOptions: ModelOptions
    @OptionGroup(title: "Data")
    public var datasetOptions: DatasetOptions
    @Option(help: "Update codec chain, e.g. fp32, fp16, int8, topk:0.01+int8, int8+deflate.")
    public var codec = "int8"
    @Option(help: "fedbuff[:K], fedasync[:ALPHA] or fedavg[:M] (synchronous rounds of M clients).")
    public var strategy = "fedbuff"
    @Option(help: "Updates FedBuff buffers (default \(AggregationStrategy.Kind.defaultFedBuffSize)) or FedAvg clients per round (default \(AggregationStrategy.Kind.defaultFedAvgClients)) when the strategy names none.")
    public var buffer: Int?
    @Option(help: "How an aggregate's updates combine: mean, or robust trimmed-mean[:B] or median over each update apart (workers then send one update per partial; docs/robustness.md).")
    public var aggregate = "mean"
    @Option(help: "Staleness weight: const, poly:A, hinge:A,B or exp:A.")
    public var staleness = "poly:0.5"
    @Option(help: "Drop updates more than this many versions stale.")
    public var maxStaleness: Int?
    @Flag(help: "Also weigh each update by its client's sample count.")
    public var weighBySamples = false
    @Option(help: "Server optimizer: sgd:LR, momentum:LR,BETA or adam:LR,B1,B2,EPS.")
    public var serverOpt = ServerOptimizer.Rule.default.description
    @Option(help: "Seed for data split, initialisation and client order.")
    public var seed: UInt64 = 1
    @Option(help: "Directory with the four MNIST gzip IDX files.")
    public var data = "data/mnist"
    @Option(help: "Roles: keep trying to (re)connect to the broker for this many seconds before giving up.")
    public var reconnectFor = 300.0
    @Option(help: "Split the updates path over this many quorum queues (1-64; docs/cluster.md): workers consume every shard, clients need not know.")
    public var updateShards = 1
    @Option(help: "The updates path's queue type: quorum (competing workers), stream (one worker per shard by claim, offsets taken once; docs/cluster.md) or classic (unreplicated, for comparison).")
    public var updatesQueue = "quorum"
    @Option(help: "Serve Prometheus metrics on this port (GET /metrics); 0 picks a free one.")
    public var metricsPort: Int?
    @Option(help: "Host name or address the metrics port listens on: localhost, ::1, or 0.0.0.0 or :: for every interface (in a container).")
    public var metricsAddress = "127.0.0.1"
    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical (logs go to stderr).")
    public var logLevel = "info"
    @OptionGroup(title: "Differential privacy")
    public var privacy: PrivacyOptions
    @OptionGroup(title: "Signing (docs/signing.md)")
    public var trust: TrustOptions
    @OptionGroup(title: "Defences against hostile updates (docs/robustness.md)")
    public var defences: DefenceOptions
    @OptionGroup(title: "Large messages (docs/wire-format.md, Chunks)")
    public var chunks: ChunkOptions

    public init() {}

    /// The flags `EnvironmentDefaults` fills from `FEDQ_*` variables.
    public static let environmentFlags = [
        "broker", "broker-password-file", "codec", "strategy", "buffer", "aggregate", "staleness", "max-staleness", "weigh-by-samples",
        "server-opt", "seed", "data", "reconnect-for", "update-shards", "updates-queue", "metrics-port", "metrics-address", "log-level",
    ] + ModelOptions.environmentFlags + DatasetOptions.environmentFlags + PrivacyOptions.environmentFlags + TrustOptions.environmentFlags + DefenceOptions.environmentFlags
        + ChunkOptions.environmentFlags


    public func validate() throws {
        guard metricsPort.map({ (0...65_535).contains($0) }) ?? true else { throw ValidationError("--metrics-port must be in 0...65535") }
        guard reconnectFor >= 0 else { throw ValidationError("--reconnect-for must be >= 0") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: one of trace, debug, info, notice, warning, error, critical")
        }
        guard buffer.map({ $0 > 0 }) ?? true else { throw ValidationError("--buffer must be positive") }
        _ = try shards()
        guard maxStaleness.map({ $0 >= 0 }) ?? true else { throw ValidationError("--max-staleness must be >= 0") }
        if privacy.isEnabled, weighBySamples {
            // A client's claimed sample count would scale its clipped update past C: the
            // noise would no longer hide one client, and the reported ε would be false.
            throw ValidationError("--weigh-by-samples cannot be used with --dp-clip: it would let one client's weight exceed the clip bound the privacy guarantee rests on")
        }
        _ = try modelSpec()
        _ = try codecSpec()
        _ = try strategyKind()
        let rule = try aggregateRule()
        if rule.needsEachUpdate {
            if case .fedAsync = try strategyKind() {
                throw ValidationError("--aggregate \(aggregate) needs --strategy fedbuff or fedavg (it combines the updates of a buffer; FedAsync applies each alone)")
            }
            guard !privacy.isEnabled else {
                throw ValidationError("--aggregate \(aggregate) cannot be used with --dp-clip: the noise is calibrated to a sum of clipped updates")
            }
        }
        _ = try stalenessFunction()
        _ = try serverOptimizer()
    }

    /// The model of `--model`, `--model-file` and `--input`, over MNIST or the `--dataset` table.
    public func modelSpec() throws -> ModelSpec {
        let (shape, classCount, _, _) = try datasetOptions.shape()
        return try modelOptions.modelSpec(dataset: shape, classCount: classCount)
    }
    public func codecSpec() throws -> CodecSpec { try parse("codec") { try CodecSpec(parsing: codec) } }
    public func aggregateRule() throws -> AggregateRule { try parse("aggregate") { try AggregateRule(parsing: aggregate) } }
    public func stalenessFunction() throws -> StalenessFunction { try parse("staleness") { try StalenessFunction(parsing: staleness) } }
    public func serverOptimizer() throws -> ServerOptimizer.Rule { try parse("server-opt") { try ServerOptimizer.Rule(parsing: serverOpt) } }

    public func strategyKind() throws -> AggregationStrategy.Kind {
        // `--buffer` sizes a strategy named without its parameter; the parser's default otherwise.
        let named = if let buffer, !strategy.contains(":"), strategy != "fedasync" { "\(strategy):\(buffer)" } else { strategy }
        return try parse("strategy") { try AggregationStrategy.Kind(parsing: named) }
    }

    /// The staleness policy workers apply (synchronous FedAvg forces its own).
    public func stalenessPolicy() throws -> StalenessPolicy {
        AggregationStrategy(try strategyKind()).stalenessPolicy(
            StalenessPolicy(function: try stalenessFunction(), maxStaleness: maxStaleness, weighsBySamples: weighBySamples))
    }

    /// `--update-shards` and `--updates-queue` as the topology's value.
    public func shards() throws -> UpdateShards {
        try UpdateShards.parsing(count: updateShards, queueType: updatesQueue)
    }

    /// The logger of `role`, once logging is set up at `--log-level`.
    public func logger(role: String) -> Logger {
        RoleRuntime.bootstrapLogging(level: logLevel)
        return RoleRuntime.logger(role: role)
    }

    /// A supervisor keeping `role` connected to the broker `--broker` names.
    public func supervisor(role: String, logger: Logger) throws -> RoleSupervisor {
        RoleRuntime.supervisor(
            role: role, connector: try roleConnector(name: "fedq \(role)"), patience: .seconds(reconnectFor), logger: logger)
    }

    /// Starts serving metrics when `--metrics-port` was given, and says where: every
    /// `PipelineMetric` with its help text, this role's counters from zero, the process metrics.
    /// - Throws: `MetricsServerError` when `--metrics-address` does not resolve or cannot be bound.
    public func startMetrics(role: String) async throws -> MetricsServer? {
        guard let metricsPort else { return nil }
        let server = try await Self.serveMetrics(role: role, host: metricsAddress, port: metricsPort)
        logger(role: role).info("metrics on \(server.url)")
        return server
    }

    /// What `startMetrics` does, given the address.
    static func serveMetrics(role: String, host: String, port: Int) async throws(MetricsServerError) -> MetricsServer {
        let registry = Telemetry.bootstrap(help: PipelineMetric.helpTexts, valueBuckets: PipelineMetric.valueBuckets)
        PipelineMetrics.register(role: role)
        return try await Telemetry.serve(registry, host: host, port: port)
    }

    /// The broker of a role command: RabbitMQ, as the role's own identity. There is no
    /// default: a default URL would have to carry a default user (guest), and no role runs
    /// as guest.
    /// - Throws: `ValidationError` without `--broker`, for `embedded` (other processes
    ///   cannot reach it) or a bad URL.
    public func roleConnector(name: String) throws -> TransportConnector {
        guard broker != nil else {
            throw ValidationError(
                "--broker (or FEDQ_BROKER) is required: the RabbitMQ URL with this role's identity, e.g. amqp://fedq-worker@broker:5672/%2F with --broker-password-file")
        }
        let connector = try connector(name: name, default: "")
        guard !connector.isEmbedded else {
            throw ValidationError("--broker: a role needs RabbitMQ, an amqp:// or amqps:// URL")
        }
        return connector
    }

    /// The broker `--broker` names: `embedded` or a RabbitMQ URL (`fallback` when not given).
    /// - Throws: `ValidationError` for a URL the adapter cannot parse (the message never
    ///   shows the password).
    public func connector(name: String, default fallback: String) throws -> TransportConnector {
        let password = try brokerPasswordFile.map { try Self.readSecret($0, flag: "broker-password-file") }
        do {
            return try TransportFactory.connector(for: broker ?? fallback, connectionName: name, password: password)
        } catch {
            throw ValidationError("--broker: \(error)")
        }
    }

    /// A secret file's first line; the error names the file, never its content.
    public static func readSecret(_ path: String, flag: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("--\(flag): cannot read \(path)")
        }
        let secret = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !secret.isEmpty else { throw ValidationError("--\(flag): \(path) is empty") }
        return secret
    }

    private func parse<T>(_ flag: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw ValidationError("--\(flag): \(error)") }
    }
}
