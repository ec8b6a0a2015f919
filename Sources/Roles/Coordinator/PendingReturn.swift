import Aggregation
import FedCore

/// The coordinator's side of a return: the new updates of a parked partial it asked back,
/// and until when it waits for them before booking them under the reason the partial was
/// parked for (as it did before returns). Checkpointed: a restart goes on waiting, and books
/// them if they never come.
public struct PendingReturn: Hashable, Sendable, Codable {
    public var address: PartialReturn
    /// The parked partial's updates that were not counted when it was refused.
    public var entries: [PartialAggregate.Entry]
    /// Unix seconds after which the updates still not counted are booked.
    public var deadline: UInt64
    /// The reason's wire byte; nil in checkpoints from before returns had other reasons.
    private var reasonCode: UInt8?

    /// Why the partial was parked (`duplicate`: it mixed counted and new updates;
    /// `rate-limited`: it took a client beyond its share), which its updates that never
    /// come back are booked under.
    public var reason: RejectionReason { reasonCode.flatMap(RejectionReason.init(rawValue:)) ?? .duplicate }

    public init(address: PartialReturn, entries: [PartialAggregate.Entry], deadline: UInt64, reason: RejectionReason = .duplicate) {
        self.address = address
        self.entries = entries
        self.deadline = deadline
        reasonCode = reason.rawValue
    }
}
