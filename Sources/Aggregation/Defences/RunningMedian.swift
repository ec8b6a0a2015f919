/// The median of the last `capacity` values seen: what adaptive bounds are multiples of.
///
/// A window, not a running quantile estimate (Andrew et al. 2021's geometric update), so
/// the bound follows the run's recent updates exactly and needs no learning rate; with a
/// window of a few hundred values the sort per query costs microseconds, small beside
/// decoding one update.
public struct RunningMedian: Sendable, Equatable {
    public let capacity: Int
    private var values: [Double] = []
    private var next = 0

    public init(capacity: Int = 256) {
        precondition(capacity > 0, "a window holds at least one value")
        self.capacity = capacity
        values.reserveCapacity(capacity)
    }

    public var count: Int { values.count }

    /// Remembers `value`, forgetting the oldest once the window is full.
    public mutating func record(_ value: Double) {
        guard value.isFinite else { return }
        if values.count < capacity {
            values.append(value)
        } else {
            values[next] = value
            next = (next + 1) % capacity
        }
    }

    /// The lower median of the window (nil when empty). The lower one, so that of two
    /// values, an honest norm and an attacker's, the bound follows the smaller.
    public var median: Double? {
        guard !values.isEmpty else { return nil }
        return values.sorted()[(values.count - 1) / 2]
    }
}
