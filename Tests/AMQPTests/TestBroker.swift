import AMQP
import Foundation
import TestSupport

/// The broker that `scripts/test.sh` started, as AMQP connections.
enum TestBroker {
    static func url() throws -> String { try TestBrokerNode.url() }

    static func connect(name: String = "fedq-tests") async throws -> AMQPConnection {
        try await AMQPConnection(url: url(), connectionName: name)
    }

    static func configuration() throws -> AMQPConfiguration {
        try AMQPConfiguration(url: url())
    }

    /// A queue name no other test uses.
    static func uniqueName(_ prefix: String) -> String {
        "fedq.test.\(prefix).\(UUID().uuidString.prefix(8))"
    }

    /// Runs `scripts/broker.sh ARGUMENT` for this broker's port.
    static func runBrokerScript(_ argument: String) async throws {
        try await TestBrokerNode.runScript(argument)
    }
}
