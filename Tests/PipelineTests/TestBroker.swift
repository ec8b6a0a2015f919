import AMQP
import Foundation
import Pipeline
import TestSupport

/// The broker that `scripts/test.sh` started, as a pipeline `Transport`.
enum TestBroker {
    // Not inlined: inlined into some async tests it crashed the 6.3.1 optimiser
    // (signal 11 while splitting their coroutines in release builds).
    @inline(never)
    static func configuration() throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: TestBrokerNode.url())
        configuration.connectionName = "fedq-pipeline-tests"
        return configuration
    }

    static func connect() async throws -> AMQPTransport {
        try await AMQPTransport(configuration: configuration())
    }

    /// A queue name no other test uses.
    static func uniqueName(_ prefix: String) -> String {
        "fedq.test.\(prefix).\(UUID().uuidString.prefix(8))"
    }
}
