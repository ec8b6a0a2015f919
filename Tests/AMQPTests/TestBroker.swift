import AMQP
import Foundation
import Testing

/// The broker that `scripts/test.sh` started. Tests FAIL (never skip) when
/// `FEDQ_TEST_BROKER` is missing or the broker does not answer.
enum TestBroker {
    static func url() throws -> String {
        try #require(ProcessInfo.processInfo.environment["FEDQ_TEST_BROKER"],
                     "FEDQ_TEST_BROKER is not set: run the tests through scripts/test.sh")
    }

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

    /// Runs `scripts/broker.sh ARGUMENT` (path in `FEDQ_BROKER_SCRIPT`) without blocking the cooperative pool.
    static func runBrokerScript(_ argument: String) async throws {
        let script = try #require(ProcessInfo.processInfo.environment["FEDQ_BROKER_SCRIPT"],
                                  "FEDQ_BROKER_SCRIPT is not set: run the tests through scripts/test.sh")
        let port = try AMQPConfiguration(url: url()).port
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, argument, String(port)]
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        try #require(status == 0, "broker.sh \(argument) exited with \(status)")
    }
}
