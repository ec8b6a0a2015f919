import Synchronization

extension TransportConnector {
    /// Connections to whichever of `nodes` answers (the nodes of one cluster), tried in
    /// a `BrokerRotation`'s order. A node that cannot be reached (a connection failure)
    /// passes the attempt to the next; any other error (a refused login, a missing vhost)
    /// would be the same on every node, so it is thrown at once. The caller's reconnect
    /// loop (`RoleSupervisor`) supplies the backoff between whole rounds.
    public static func failover(_ nodes: [TransportConnector]) -> TransportConnector {
        precondition(!nodes.isEmpty, "failover needs at least one node")
        if nodes.count == 1 { return nodes[0] }
        var generator = SystemRandomNumberGenerator()
        let rotation = Mutex(BrokerRotation(count: nodes.count, using: &generator))
        let description = nodes.map(\.description).joined(separator: ",")
        return TransportConnector(description: description) { () throws(TransportError) in
            var lastError = TransportError.connectionFailed("no node answered")
            for node in rotation.withLock({ $0.attempts }) {
                do throws(TransportError) {
                    let transport = try await nodes[node].connect()
                    rotation.withLock { $0.connected(to: node) }
                    return transport
                } catch {
                    guard error.isConnectionLoss else { throw error }
                    let why = if case .connectionFailed(let why) = error { why } else { "\(nodes[node].description): \(error)" }
                    lastError = .connectionFailed("none of the \(nodes.count) nodes answered; the last: \(why)")
                }
            }
            throw lastError
        }
    }
}
