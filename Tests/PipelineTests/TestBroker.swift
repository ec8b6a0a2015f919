import AMQP
import Foundation
import Pipeline
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The broker that `scripts/test.sh` started, as AMQPTests' `TestBroker` finds it (test
/// targets cannot share code). Tests FAIL (never skip) when `FEDQ_TEST_BROKER` is missing
/// or the broker does not answer.
enum TestBroker {
    static func configuration() throws -> AMQPConfiguration {
        let url = try #require(
            ProcessInfo.processInfo.environment["FEDQ_TEST_BROKER"],
            "FEDQ_TEST_BROKER is not set: run the tests through scripts/test.sh")
        var configuration = try AMQPConfiguration(url: url)
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

/// Gives a suite the test broker to itself. Suites of different test targets run
/// in parallel, and AMQPTests restarts the broker and purges the pipeline's queues, which
/// would break a pipeline run on them. An exclusive `flock` on a file named after the
/// broker's port serialises them (the same trait guards AMQPTests); the wait polls, so it
/// holds no thread.
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
