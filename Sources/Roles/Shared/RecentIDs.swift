import Aggregation
import FedCore
import Messaging

/// The last `capacity` update ids seen, each with its message's checksum (0: not known),
/// oldest evicted first.
///
/// Two uses, both bounded by design: the coordinator's refusals booked under a digest
/// (only a redelivered partial repeats them, and far fewer than the window can be in flight
/// at once), and a worker's recently summed ids (a retry or a replay that reaches the same
/// worker after its first copy's partial left is told apart before it is summed).
public struct RecentIDs: Sendable, Equatable {
    public let capacity: Int
    private var members: [UpdateID: UInt32] = [:]
    /// Insertion order as a ring: `order[head]` is the oldest once full.
    private var order: [UpdateID] = []
    private var head = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a window must hold at least one id")
        self.capacity = capacity
    }

    public var count: Int { members.count }

    public func contains(_ id: UpdateID) -> Bool { members[id] != nil }

    /// The checksum `id` was remembered with (0: not known); nil when not remembered.
    public func checksum(of id: UpdateID) -> UInt32? { members[id] }

    /// Adds `id` (a no-op if present), evicting the oldest when full.
    public mutating func insert(_ id: UpdateID, checksum: UInt32 = 0) {
        guard members[id] == nil else { return }
        members[id] = checksum
        if order.count < capacity {
            order.append(id)
        } else {
            members[order[head]] = nil
            order[head] = id
            head = (head + 1) % capacity
        }
    }

    /// Oldest first, as the checkpoint stores them.
    public var oldestFirst: [UpdateID] { Array(order[head...] + order[..<head]) }
}
