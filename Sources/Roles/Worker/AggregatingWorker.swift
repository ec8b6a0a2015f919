import Logging
import Learning
import Messaging

/// A worker whichever updates path it reads: a queue shards' `AggregatorWorker` or a stream
/// path's `StreamWorker` (one per claimed shard inside). `makeWorker` picks it.
public protocol AggregatingWorker: Actor {
    /// Consumes updates until cancelled or the connection ends.
    func run() async throws
    /// Hands whatever is held to the flusher (the end of a run).
    func drain() async
    /// Updates scaled down to a norm bound so far.
    var updatesClipped: Int { get async }
}

extension AggregatorWorker: AggregatingWorker {}

extension StreamWorker: AggregatingWorker {
    public var updatesClipped: Int {
        get async {
            var total = 0
            for worker in workers { total += await worker.updatesClipped }
            return total
        }
    }
}

/// The worker `settings.shards`' queue type calls for: competing consumers on quorum (or
/// classic) queues, shard claims on streams.
public func makeWorker(
    transport: any Transport, spec: ModelSpec, settings: WorkerSettings,
    logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() })
) -> any AggregatingWorker {
    switch settings.shards.queueType {
    case .stream: StreamWorker(transport: transport, spec: spec, settings: settings, logger: logger)
    case .quorum, .classic: AggregatorWorker(transport: transport, spec: spec, settings: settings, logger: logger)
    }
}
