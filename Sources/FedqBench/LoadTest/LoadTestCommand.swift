import ArgumentParser
import CLISupport
import Foundation
import Messaging
import RabbitMQTransport
import Report
import Roles
import Synchronization
import Wire

/// `fedq loadtest`: how many updates per second the aggregation takes, against the
/// broker's own ceiling for the same bytes.
public struct LoadTestCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Push synthetic updates through a coordinator and W workers; report throughput, latency, CPU.",
        discussion: """
            The coordinator and the workers run as processes of their own (this same binary), \
            so each role's CPU is measured apart; the publishers run here. An update's latency \
            runs from its publish to the commit of the model version that includes it. With \
            --raw, the same bytes also go through one quorum queue with plain confirms and acks \
            (no decoding): the broker's ceiling, and the pipeline's ratio to it. The queues of \
            the broker's pipeline are purged first: use a broker (or vhost) of its own.
            """
    )

    @Option(help: "Broker URL (or FEDQ_BROKER): a broker, or a vhost, of its own, as an identity that may configure it (fedq-admin).")
    var broker: String?
    @Option(help: "Parameters per update (a synthetic model of exactly this size).")
    var params = 199_210
    @Option(help: "Codec chain of the updates, e.g. fp32, int8, topk:0.1+int8.")
    var codec = "int8"
    @Option(help: "Publishing connections.")
    var publishers = 2
    @Option(help: "Publishes each publisher keeps in flight (awaiting their confirms) at once.")
    var inFlight = 8
    @Option(help: "Updates per second in all (default: as fast as confirms come back).")
    var rate: Double?
    @Option(help: "Aggregator worker processes.")
    var workers = 2
    @Option(help: "Updates to publish (default 5000 unless --seconds is given).")
    var updates: Int?
    @Option(help: "Publish for this many seconds instead of a count.")
    var seconds: Double?
    @Option(help: "Quorum queues the updates path is split over (1-64; docs/cluster.md): on a cluster their leaders spread over the nodes.")
    var updateShards = 1
    @Option(help: "The updates path's queue type: quorum, stream (workers claim shards; use --update-shards >= --workers) or classic.")
    var updatesQueue = "quorum"
    @Option(help: "FedBuff buffer K: updates per model version.")
    var buffer = 100
    // A partial is a dense fp32 sum (800 KB for the mlp), so its share of the broker's bytes is
    // 4·params / (updates per partial × update bytes): 6% for 64 int8 updates. The 100 ms
    // bound keeps latency at half the peak well under 2 × the coordinator's 200 ms wait.
    @Option(help: "Updates per worker partial.")
    var flushUpdates = 64
    @Option(help: "Longest a worker holds a partial before publishing it, in milliseconds.")
    var flushMs = 100
    @Flag(help: "Also measure the broker's ceiling for the same payload (plain publish/consume).")
    var raw = false
    @Flag(help: "Sign every update (one credential per --clients id, from a throwaway issuer) and have the workers verify them (--issuer-key).")
    var sign = false
    @Option(help: "Client ids the updates come from, taking turns. Every update is stamped base version 0, so ids that come round again within a version repeat their base as a flood does: a few hundred ids at K=100 have some sent alone (signed) or refused rate-limited (--max-client-rate).")
    var clients = 1_000
    @Flag(help: "Run the workers with every defence against hostile updates off (--clip off, no sample or rate bounds), to measure what the defaults cost.")
    var defencesOff = false
    @Flag(help: "Run the workers with --exact-partials (fp32 partials), to measure what fp16 partials save.")
    var exactPartials = false
    @Option(help: "The workers' --return-shelf in MiB (default theirs: 32 with --sign, else 0), to measure what keeping their last partials' updates costs.")
    var returnShelf: Int?
    @Option(help: "The broker's process id, whose CPU the report shows (scripts/broker.sh pid PORT); default: every beam.smp on this host.")
    var brokerPid: Int32?
    @Option(help: "Write every figure here as JSON.")
    var json: String?
    @Option(help: "Role logs, the coordinator's updates.csv and loadtest.json (for `fedq report`).")
    var out = "runs/loadtest"

    public init() {}

    public func validate() throws {
        guard params >= 2 else { throw ValidationError("--params must be at least 2") }
        do { _ = try CodecSpec(parsing: codec) } catch { throw ValidationError("--codec: \(error)") }
        guard publishers > 0 else { throw ValidationError("--publishers must be positive") }
        guard inFlight > 0 else { throw ValidationError("--in-flight must be positive") }
        guard workers > 0 else { throw ValidationError("--workers must be positive") }
        guard clients > 0 else { throw ValidationError("--clients must be positive") }
        guard returnShelf.map({ $0 >= 0 }) ?? true else { throw ValidationError("--return-shelf must be 0 or more MiB") }
        guard rate.map({ $0 > 0 }) ?? true else { throw ValidationError("--rate must be positive") }
        guard updates.map({ $0 > 0 }) ?? true else { throw ValidationError("--updates must be positive") }
        guard seconds.map({ $0 > 0 }) ?? true else { throw ValidationError("--seconds must be positive") }
        if let brokerPid, kill(brokerPid, 0) != 0 { throw ValidationError("--broker-pid: no process \(brokerPid) on this host") }
        if try shards().queueType == .stream, updateShards < workers {
            throw ValidationError("--updates-queue stream reads each shard with one worker: --update-shards (\(updateShards)) must be >= --workers (\(workers))")
        }
        guard buffer > 0, flushUpdates > 0, flushMs > 0 else {
            throw ValidationError("--buffer, --flush-updates and --flush-ms must be positive")
        }
        _ = try brokerURL()
    }

    /// `--update-shards` and `--updates-queue`.
    private func shards() throws -> UpdateShards {
        try UpdateShards.parsing(count: updateShards, queueType: updatesQueue)
    }

    private func brokerURL() throws -> (String, TransportConnector) {
        guard let url = EnvironmentDefaults.broker(broker) else {
            throw ValidationError("--broker (or FEDQ_BROKER) is required: the RabbitMQ URL to load, e.g. amqp://fedq-admin@127.0.0.1:5672/%2F")
        }
        guard url != "embedded" else { throw ValidationError("--broker: the load test needs RabbitMQ, an amqp:// or amqps:// URL") }
        do {
            return (url, try TransportFactory.connector(for: url, connectionName: "fedq loadtest"))
        } catch { throw ValidationError("--broker: \(error)") }
    }

    public func run() async throws {
        let (url, configuration) = try brokerURL()
        let total = updates ?? (seconds == nil ? 5000 : nil)
        let line = Mutex(ProgressLine())
        let duration = seconds
        var run = LoadTestRun(
            broker: configuration, brokerURL: url, parameters: params, codec: try CodecSpec(parsing: codec),
            publishers: publishers, inFlight: inFlight, rate: rate, workers: workers, updates: total, seconds: seconds, buffer: buffer,
            flushUpdates: flushUpdates, flushMs: flushMs, raw: raw, sign: sign, out: out
        ) { published, aggregated, elapsed in
            let fraction = total.map { Double(aggregated) / Double($0) } ?? duration.map { elapsed / $0 } ?? 0
            let text = ProgressLine.bar(fraction) + String(format: "  %d published  %d aggregated  %.1fs", published, aggregated, elapsed)
            line.withLock { $0.update(text) }
        }
        run.brokerPID = brokerPid
        run.defencesOff = defencesOff
        run.exactPartials = exactPartials
        run.returnShelf = returnShelf
        run.clients = UInt64(clients)
        run.shards = try shards()
        print("load test: \(workers) workers, \(publishers) publishers, \(updateShards) \(updatesQueue) update queue\(updateShards == 1 ? "" : "s"), \(params) parameters, codec \(codec), K=\(buffer), \(clients) client ids\(sign ? ", signed updates" : "")\(defencesOff ? ", defences off" : "")")
        let result = try await run.run()
        line.withLock { $0.finish() }
        for text in Self.lines(result) { print(text) }
        try writeJSON(result, to: out + "/loadtest.json")
        if let json { try writeJSON(result, to: json) }
        print("details: \(out)/loadtest.json; report: fedq report \(out)")
    }

    static func lines(_ result: LoadTestResult) -> [String] {
        var lines = [
            String(format: "message %d bytes; %d published, %d aggregated in %.2f s", result.messageBytes, result.updatesPublished,
                   result.updatesAggregated, result.seconds),
            String(format: "throughput %.0f updates/s, %.1f MB/s (publish to last version); the broker accepted %.0f updates/s",
                   result.updatesPerSecond, result.mbPerSecond, result.acceptedPerSecond ?? 0),
            String(format: "latency publish → version: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
                   result.latencyMs.p50, result.latencyMs.p90, result.latencyMs.p99, result.latencyMs.max),
        ]
        if let refused = result.rejectedByReason, !refused.isEmpty {
            lines.append("refused (settled, not applied): " + RejectionCounts.text(refused))
        }
        if let written = result.diskBytesWritten, let perByte = result.diskBytesPerPublishedByte {
            lines.append(String(format: "disk writes (every disk of this machine): %.0f MB, %.0f MB/s, %.2f bytes per byte published",
                                written / 1e6, written / 1e6 / max(1e-6, result.seconds), perByte))
        }
        if let raw = result.rawUpdatesPerSecond, let ratio = result.ratioToRaw {
            lines.append(String(format: "raw broker ceiling %.0f updates/s: pipeline at %.1f%% of it", raw, ratio * 100))
        }
        if let rawCPU = result.rawCpu {
            lines.append("CPU of the raw run (cores): " + rawCPU.map { String(format: "%@ %.2f", $0.role, $0.cores) }.joined(separator: ", "))
        }
        lines.append("CPU (cores over the run): " + result.cpu.map { String(format: "%@ %.2f", $0.role, $0.cores) }.joined(separator: ", "))
        return lines
    }
}
