/// The median of the last `capacity` values seen: what adaptive bounds are multiples of.
///
/// A window, not a running quantile estimate (Andrew et al. 2021's geometric update), so
/// the bound follows the run's recent updates exactly and needs no learning rate; with a
/// window of a few hundred values. The window is also kept sorted (a binary-search insert
/// and removal per value), so the median a worker asks for on every update is one lookup,
/// not a sort of 256 values.
public struct RunningMedian: Sendable, Equatable {
    public let capacity: Int
    /// The window in arrival order (a ring once full), for eviction.
    private var values: [Double] = []
    /// The same values, ascending.
    private var sorted: [Double] = []
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
            sorted.remove(at: Self.position(of: values[next], in: sorted))
            values[next] = value
            next = (next + 1) % capacity
        }
        sorted.insert(value, at: Self.position(of: value, in: sorted))
    }

    /// The first index whose value is not below `value`.
    private static func position(of value: Double, in sorted: [Double]) -> Int {
        var (low, high) = (0, sorted.count)
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The lower median of the window (nil when empty). The lower one, so that of two
    /// values, an honest norm and an attacker's, the bound follows the smaller.
    public var median: Double? {
        guard !sorted.isEmpty else { return nil }
        return sorted[(sorted.count - 1) / 2]
    }
}
