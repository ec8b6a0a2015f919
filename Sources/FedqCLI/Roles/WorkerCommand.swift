import ArgumentParser
import CLISupport
import Roles
import Trust
import Wire

/// `fedq worker`: one aggregator worker; start as many as the load needs.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Aggregate client updates into partials for the coordinator (competing consumer; run many).",
        discussion: """
            Every update's L2 norm is clipped (--clip, default 3 times the median of recent \
            norms) before it is summed. Refused updates (undecodable, another model, NaN/Inf, \
            over --max-norm or --max-samples, a base version from the future, over \
            --max-client-rate, a second message under a summed id) are parked in the \
            fedq.q.dead queue with an x-fedq-reason header; updates staler than \
            --max-staleness (1,000 versions by default) are dropped. Both are counted by the \
            coordinator (docs/robustness.md). With --issuer-key, updates not signed under a \
            credential of that issuer are refused as unauthenticated (docs/signing.md), and \
            so are those under a credential on the coordinator's revocation list (it comes \
            signed on its version notices: with --coordinator-key) or on the worker's own \
            --revoked list, which is read again whenever the file changes.
            """
    )

    @OptionGroup var shared: SharedOptions
    @Option(help: "Flush a partial after this many updates (default: half the strategy's buffer).")
    var flushUpdates: Int?
    @Option(help: "…or once its oldest update waited this many milliseconds.")
    var flushMs = 20
    @Option(help: "Unacknowledged updates the broker may hand this worker at once.")
    var prefetch = 64
    @Option(help: "Refuse updates whose L2 norm exceeds this.")
    var maxNorm: Float?
    @Option(help: "Refuse messages larger than this many bytes (default: twice the model in fp32).")
    var maxMessageBytes: Int?
    @Flag(help: "Send partials in fp32 even when every update in them was lossy (default: fp16 then, half the bytes).")
    var exactPartials = false
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "MiB of the last partials' updates kept, should the coordinator ask them back (it does when a partial mixed a replay with new updates; docs/robustness.md); 0 keeps none. (default: 32 with --issuer-key, else 0)",
        valueName: "mib"))
    var returnShelf: Int?
    @Option(parsing: .unconditional, help: "With --issuer-key and --coordinator-key: seconds a starting worker waits for the coordinator's first notice (and its revocation list) before it consumes without it (default 3); 'forever' never consumes without it.")
    var noticeWait: String?

    /// `--notice-wait` as the worker's setting (nil: forever).
    static func noticeWait(_ text: String) throws -> Duration? {
        if text == "forever" { return nil }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
            throw ValidationError("--notice-wait must be a number of seconds (0 or more) or 'forever', got '\(text)'")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    func validate() throws {
        guard flushUpdates.map({ $0 > 0 }) ?? true else { throw ValidationError("--flush-updates must be positive") }
        guard flushMs > 0 else { throw ValidationError("--flush-ms must be positive") }
        guard prefetch > 0 else { throw ValidationError("--prefetch must be positive") }
        guard maxNorm.map({ $0 > 0 && $0.isFinite }) ?? true else { throw ValidationError("--max-norm must be a positive number") }
        guard maxMessageBytes.map({ $0 > 0 }) ?? true else { throw ValidationError("--max-message-bytes must be positive") }
        if let returnShelf, !(0...(1 << 20)).contains(returnShelf) {
            throw ValidationError("--return-shelf must be 0 or more MiB (at most 1048576), got \(returnShelf)")
        }
        guard shared.trust.revoked == nil || shared.trust.issuerKey != nil else {
            throw ValidationError("--revoked needs --issuer-key: without it no update carries a credential to revoke")
        }
        if let noticeWait {
            _ = try Self.noticeWait(noticeWait)
            guard shared.trust.issuerKey != nil, shared.trust.coordinatorKey != nil else {
                throw ValidationError("--notice-wait needs --issuer-key and --coordinator-key: only then does a worker wait for the coordinator's revocation list")
            }
        }
        _ = try shared.roleConnector(name: "fedq worker")
    }

    func run() async throws {
        let logger = shared.logger(role: "worker")
        let metrics = try await shared.startMetrics(role: "worker")
        defer { metrics?.close() }
        let spec = try shared.modelSpec()
        // Without --flush-updates, assume the usual pair of workers shares each buffer.
        let flush = try shared.strategyKind().workerFlushSize(workers: 2, requested: flushUpdates, rule: try shared.aggregateRule())
        var limits = DecodeLimits.default
        // No honest update is larger than the uncompressed model; twice that leaves room.
        limits.maxMessageBytes = maxMessageBytes ?? (8 * spec.parameterCount + (64 << 10))
        var settings = WorkerSettings(
            flushUpdates: flush, flushInterval: .milliseconds(flushMs), prefetch: prefetch,
            staleness: try shared.stalenessPolicy(), limits: limits, maxNorm: maxNorm, clipNorm: shared.privacy.dpClip,
            defences: try shared.defences.defences(),
            issuer: try shared.trust.loadIssuerKey(), coordinatorKey: try shared.trust.loadCoordinatorKey())
        settings.shards = try shared.shards()
        settings.chunkSize = shared.chunks.chunkSize
        settings.exactPartials = exactPartials
        settings.returnShelfBytes = returnShelf.map { $0 << 20 }
        if let noticeWait { settings.firstNoticeWait = try Self.noticeWait(noticeWait) }
        // With an issuer, always a list: the coordinator's arrives on its notices.
        settings.revocations = try shared.trust.loadRevocations() ?? (settings.issuer == nil ? nil : Revocations())
        let (shards, configured) = (settings.shards, settings)
        shared.trust.warnIfUnauthenticated(role: "worker", logger: logger)
        let supervisor = try shared.supervisor(role: "worker", logger: logger)
        let following = shared.trust.followRevocations(into: configured.revocations, logger: logger)
        defer { following?.cancel() }
        try await RoleRuntime.runUntilSignalled(logger: logger) {
            try await supervisor.run { transport, _ in
                try await PipelineTopology.ensure(on: transport, shards: shards)
                // A fresh worker per connection: what the old one held was never acknowledged.
                try await makeWorker(transport: transport, spec: spec, settings: configured, logger: logger).run()
            }
        }
        logger.info("stopped")
    }
}
