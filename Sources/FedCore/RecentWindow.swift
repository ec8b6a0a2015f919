/// The last `capacity` keys remembered, each with a value, the oldest forgotten first: the
/// one bounded memory FedQueue keeps of recent things (a worker's summed update ids, the
/// coordinator's refusals, the credentials a worker verified). Bounded by design, so no
/// sender can grow it; a key already remembered keeps its place and value.
public struct RecentWindow<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public let capacity: Int
    private var values: [Key: Value] = [:]
    /// Insertion order as a ring: `order[head]` is the oldest once full.
    private var order: [Key] = []
    private var head = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a window must hold at least one key")
        self.capacity = capacity
    }

    public var count: Int { values.count }

    public subscript(key: Key) -> Value? { values[key] }

    /// Remembers `value` under `key` (a no-op if `key` is remembered), forgetting the
    /// oldest key when full.
    public mutating func insert(_ key: Key, _ value: Value) {
        guard values[key] == nil else { return }
        values[key] = value
        if order.count < capacity {
            order.append(key)
        } else {
            values[order[head]] = nil
            order[head] = key
            head = (head + 1) % capacity
        }
    }

    /// The keys, oldest first.
    public var oldestFirst: [Key] { Array(order[head...] + order[..<head]) }
}

extension RecentWindow: Equatable where Value: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.capacity == rhs.capacity && lhs.values == rhs.values && lhs.oldestFirst == rhs.oldestFirst
    }
}
