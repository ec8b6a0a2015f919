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
    ///
    /// Spawned and reaped by hand on a thread of its own: Foundation's `Process` never
    /// called its termination handler for `broker.sh start` (whose backgrounded node
    /// outlives it), which hung the restart test.
    static func runBrokerScript(_ argument: String) async throws {
        let script = try #require(ProcessInfo.processInfo.environment["FEDQ_BROKER_SCRIPT"],
                                  "FEDQ_BROKER_SCRIPT is not set: run the tests through scripts/test.sh")
        let arguments = ["/bin/bash", script, argument, String(try AMQPConfiguration(url: url()).port)]
        let status: Int32 = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: spawnAndWait(arguments)) }.start()
        }
        try #require(status == 0, "broker.sh \(argument) exited with \(status)")
    }

    /// The exit status of `arguments[0]` run with `arguments`, or -1 if it could not start.
    private static func spawnAndWait(_ arguments: [String]) -> Int32 {
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        guard posix_spawn(&pid, arguments[0], nil, nil, &argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
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
