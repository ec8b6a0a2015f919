import AMQP
import FedCore

/// `topology/definitions.json` (RabbitMQ's definitions format) applied to or checked
/// against a broker, for `fedq topology`: the exchanges, queues and bindings every role
/// expects, declared the way an operator would import them.
public struct TopologyDefinitions: Sendable {
    private var topology: AMQPTopology
    public let path: String

    public var exchangeCount: Int { topology.exchanges.count }
    public var queueCount: Int { topology.queues.count }
    public var bindingCount: Int { topology.bindings.count }

    /// - Throws: an `AMQPError` for a missing or unreadable file.
    public init(path: String) throws {
        self.path = path
        topology = try AMQPTopology(definitionsAt: path)
    }

    /// The same definitions without `queues` and their bindings: `fedq topology apply
    /// --updates-queue stream` declares the update queues as streams itself, and a queue's
    /// type cannot change once it is declared.
    public func excluding(queues names: Set<String>) -> TopologyDefinitions {
        var copy = self
        copy.topology.queues.removeAll { names.contains($0.name) }
        copy.topology.bindings.removeAll { names.contains($0.queue) }
        return copy
    }

    /// Declares every exchange, queue and binding (idempotent); with `purge`, empties the
    /// queues too. Returns how many messages were purged.
    public func apply(brokerURL: String, password: String? = nil, purge: Bool) async throws -> Int {
        var configuration = try TransportFactory.configuration(for: brokerURL, connectionName: "fedq topology")
        if let password { configuration.password = password }
        let connection = try await AMQPConnection(configuration: configuration)
        do {
            try await connection.declare(topology)
            var purged = 0
            if purge {
                let channel = try await connection.openChannel()
                for queue in topology.queues { purged += try await channel.purgeQueue(queue.name) }
            }
            await connection.close()
            return purged
        } catch {
            await connection.close()
            throw error
        }
    }

    /// What differs between the broker and the definitions (empty: all match).
    public func check(brokerURL: String, password: String? = nil) async throws -> [String] {
        var configuration = try TransportFactory.configuration(for: brokerURL, connectionName: "fedq topology")
        if let password { configuration.password = password }
        let connection = try await AMQPConnection(configuration: configuration)
        do {
            let problems = try await connection.check(topology)
            await connection.close()
            return problems
        } catch {
            await connection.close()
            throw error
        }
    }
}
