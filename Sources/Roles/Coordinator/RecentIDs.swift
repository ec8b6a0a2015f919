import Aggregation
import FedCore
import Messaging

/// The last `capacity` update ids the coordinator settled, oldest evicted first.
///
/// A redelivery can only repeat an update that was in flight when something
/// crashed, so a window far larger than everything that can be in flight at once
/// (prefetch × workers plus the partials queue) catches every duplicate, while
/// the checkpoint that persists it stays bounded however long the run.
public struct RecentIDs: Sendable, Equatable {
    public let capacity: Int
    private var members: Set<UpdateID> = []
    /// Insertion order as a ring: `order[head]` is the oldest once full.
    private var order: [UpdateID] = []
    private var head = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a window must hold at least one id")
        self.capacity = capacity
    }

    public var count: Int { members.count }

    public func contains(_ id: UpdateID) -> Bool { members.contains(id) }

    /// Adds `id` (a no-op if present), evicting the oldest when full.
    public mutating func insert(_ id: UpdateID) {
        guard members.insert(id).inserted else { return }
        if order.count < capacity {
            order.append(id)
        } else {
            members.remove(order[head])
            order[head] = id
            head = (head + 1) % capacity
        }
    }

    /// Oldest first, as the checkpoint stores them.
    public var oldestFirst: [UpdateID] { Array(order[head...] + order[..<head]) }
}
