/// What a run's wind-down needs of a worker, whichever updates path it reads: a queue
/// shards' `AggregatorWorker` or a stream path's `StreamWorker` (one per claimed shard inside).
public protocol AggregatingWorker: Actor {
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
