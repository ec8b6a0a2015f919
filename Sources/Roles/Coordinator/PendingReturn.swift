import Aggregation

/// The coordinator's side of a return: the new updates of a parked partial it asked back,
/// and until when it waits for them before booking them as duplicates (as it did before
/// returns). Checkpointed: a restart goes on waiting, and books them if they never come.
public struct PendingReturn: Hashable, Sendable, Codable {
    public var address: PartialReturn
    /// The parked partial's updates that were not counted when it was refused.
    public var entries: [PartialAggregate.Entry]
    /// Unix seconds after which the updates still not counted are booked as duplicates.
    public var deadline: UInt64

    public init(address: PartialReturn, entries: [PartialAggregate.Entry], deadline: UInt64) {
        self.address = address
        self.entries = entries
        self.deadline = deadline
    }
}
