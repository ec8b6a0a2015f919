/// At most `perAggregate` updates of one client in one aggregate the coordinator applies,
/// whichever workers summed them (`--max-client-rate` at the coordinator, docs/robustness.md
/// "Rate limit").
///
/// Each worker holds a client to `ClientRateLimit`, but on queue shards competing workers
/// share a shard's updates, so W workers would let a client put W times its share into one
/// aggregate: adding workers, FedQueue's way to scale, would loosen a defence. The
/// coordinator sees every partial, so it counts each client's updates in the aggregate it is
/// filling and tells which entries of a new partial go beyond the share; what becomes of
/// them is `CoordinatorStateMachine`'s decision (a sum cannot be split).
///
/// The count covers the partials the strategy buffers now, and starts again once they are
/// applied or refused: it needs no checkpoint, since a restart gets those partials back from
/// the broker and counts them again. An entry without a client (an older worker's partial)
/// is not counted.
public struct FleetClientLimit: Sendable, Equatable {
    public let perAggregate: Int
    private var counts: [UInt64: Int] = [:]

    public init(perAggregate: Int) {
        precondition(perAggregate > 0, "a client must be allowed at least one update per aggregate")
        self.perAggregate = perAggregate
    }

    /// The entries of a partial that would take their client beyond its share: those past
    /// the share counting the aggregate's updates and the partial's earlier entries, in order.
    public func excess(_ entries: [PartialAggregate.Entry]) -> [PartialAggregate.Entry] {
        var taken: [UInt64: Int] = [:]
        return entries.filter { entry in
            guard let client = entry.clientID else { return false }
            let count = taken[client, default: counts[client, default: 0]]
            taken[client] = count + 1
            return count >= perAggregate
        }
    }

    /// Counts a partial's entries into the aggregate being filled.
    public mutating func take(_ entries: [PartialAggregate.Entry]) {
        for client in entries.lazy.compactMap(\.clientID) { counts[client, default: 0] += 1 }
    }

    /// Updates of `client` in the aggregate being filled.
    public func count(of client: UInt64) -> Int { counts[client, default: 0] }

    /// The most updates any one client has in the aggregate being filled (0: none named).
    public var largestCount: Int { counts.values.max() ?? 0 }

    /// The aggregate was applied or refused: every client starts again.
    public mutating func reset() { counts.removeAll(keepingCapacity: true) }
}
