import FedCore

/// The last `capacity` update ids seen, each with its message's checksum (0: not known),
/// oldest evicted first.
///
/// Two uses, both bounded by design: the coordinator's refusals booked under a digest
/// (only a redelivered partial repeats them, and far fewer than the window can be in flight
/// at once), and a worker's recently summed ids (a retry or a replay that reaches the same
/// worker after its first copy's partial left is told apart before it is summed).
public struct RecentIDs: Sendable, Equatable {
    private var window: RecentWindow<UpdateID, UInt32>

    public init(capacity: Int) { window = RecentWindow(capacity: capacity) }

    public var capacity: Int { window.capacity }
    public var count: Int { window.count }

    public func contains(_ id: UpdateID) -> Bool { window[id] != nil }

    /// The checksum `id` was remembered with (0: not known); nil when not remembered.
    public func checksum(of id: UpdateID) -> UInt32? { window[id] }

    /// Adds `id` (a no-op if present), evicting the oldest when full.
    public mutating func insert(_ id: UpdateID, checksum: UInt32 = 0) { window.insert(id, checksum) }

    /// Oldest first, as the checkpoint stores them.
    public var oldestFirst: [UpdateID] { window.oldestFirst }
}
