import AMQP
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

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

/// Gives a suite the test broker to itself. Suites of different test targets run
/// in parallel, and this target restarts the broker and purges the pipeline's queues,
/// which would break PipelineTests' runs on them. An exclusive `flock` on a file named
/// after the broker's port serialises them (PipelineTests has the same trait: test targets
/// cannot share code); the wait polls, so it holds no thread.
struct ExclusiveBroker: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // Without a broker the test itself fails on the missing URL.
        guard let port = try? TestBroker.configuration().port else { return try await function() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-test-broker-\(port).lock").path
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        try #require(descriptor >= 0, "cannot open \(path)")
        defer { close(descriptor) }  // releases the lock
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 { try await Task.sleep(for: .milliseconds(100)) }
        try await function()
    }
}

extension Trait where Self == ExclusiveBroker {
    static var exclusiveBroker: Self { Self() }
}
