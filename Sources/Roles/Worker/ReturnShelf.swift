import FedCore
import Messaging

/// The updates of a worker's last partials, kept so that the coordinator can ask them back
/// when it had to park one of those partials (`PartialReturn`): bounded in bytes, the
/// oldest partial's dropped first. The bodies are the deliveries' own arrays
/// (copy-on-write), so keeping them copies nothing; it only holds memory a while longer.
///
/// How long a partial stays depends on the load: `capacity` over the worker's bytes per
/// second (32 MiB hold 160 updates of 200 KB, a quarter of a second of one worker on this
/// machine at full speed, far longer at a federation's usual rates). The coordinator asks within a notice's
/// round trip of the partial reaching it, so only a coordinator far behind its queue finds
/// a partial gone; it then books those updates as duplicates, as before returns.
struct ReturnShelf: Sendable {
    /// One update as it came: enough to judge it again.
    struct Update: Sendable {
        var body: [UInt8]
        var properties: MessageProperties
    }

    private struct Shelved: Sendable {
        var partial: UInt64
        var updates: [Update]
        var bytes: Int
        var shelved: ContinuousClock.Instant
    }

    /// How long a partial is kept at most: the coordinator books what it asked back and did
    /// not get after `CoordinatorStateMachine.returnWait` (30 s), so a partial older than
    /// that could not be of use (an idle worker lets go of its last bursts).
    static let keep: Duration = .seconds(Int64(CoordinatorStateMachine.returnWait))

    /// Bytes of bodies kept at most.
    let capacity: Int
    private var shelved: [Shelved] = []
    private(set) var bytes = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Keeps `updates`, the summed updates of partial `partial`, dropping the oldest partials
    /// to stay within `capacity` (a partial larger than it all is not kept).
    mutating func shelve(_ updates: [Update], partial: UInt64, now: ContinuousClock.Instant = .now) {
        let size = updates.reduce(0) { $0 + $1.body.count }
        guard size <= capacity, !updates.isEmpty else { return }
        shelved.append(Shelved(partial: partial, updates: updates, bytes: size, shelved: now))
        bytes += size
        var dropped = 0
        while bytes > capacity {
            bytes -= shelved[dropped].bytes
            dropped += 1
        }
        shelved.removeFirst(dropped)
        expire(now: now)
    }

    /// Drops the partials kept longer than `keep`.
    mutating func expire(now: ContinuousClock.Instant = .now) {
        var dropped = 0
        while dropped < shelved.count, now - shelved[dropped].shelved > Self.keep {
            bytes -= shelved[dropped].bytes
            dropped += 1
        }
        shelved.removeFirst(dropped)
    }

    /// The updates of `partial`, taken off the shelf; nil when it is not (or no longer) kept.
    mutating func take(partial: UInt64) -> [Update]? {
        guard let index = shelved.firstIndex(where: { $0.partial == partial }) else { return nil }
        let taken = shelved.remove(at: index)
        bytes -= taken.bytes
        return taken.updates
    }

    /// How many partials are kept.
    var count: Int { shelved.count }
}
