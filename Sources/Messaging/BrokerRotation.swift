/// The order in which a role tries the nodes of a cluster: shuffled once per process,
/// so a fleet's connections spread over the nodes instead of all landing on the first
/// one listed, and after a loss starting from the node *after* the one it was on, so a
/// reconnect does not first knock on the node that just died.
///
/// A value type with no I/O: `TransportConnector.failover` keeps one behind a lock.
public struct BrokerRotation: Sendable, Equatable {
    /// Node indices in this process's order.
    public let order: [Int]
    /// Where in `order` the last successful connection went (nil: none yet).
    private var current: Int?

    /// A rotation over `count` nodes, shuffled with `generator`.
    public init(count: Int, using generator: inout some RandomNumberGenerator) {
        precondition(count > 0, "a rotation needs at least one node")
        order = Array(0..<count).shuffled(using: &generator)
    }

    /// The nodes to try for the next connection, in order: every node once, the one
    /// connected last at the end.
    public var attempts: [Int] {
        guard let current else { return order }
        let start = (current + 1) % order.count
        return Array(order[start...] + order[..<start])
    }

    /// Records that a connection to `node` succeeded.
    public mutating func connected(to node: Int) {
        current = order.firstIndex(of: node)
    }
}
