import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The RabbitMQ node `scripts/test.sh` started, as every test target finds it. Tests
/// FAIL (never skip) when `FEDQ_TEST_BROKER` is missing or the broker does not answer.
public enum TestBrokerNode {
    public static func url() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["FEDQ_TEST_BROKER"],
            "FEDQ_TEST_BROKER is not set: run the tests through scripts/test.sh")
    }

    /// The AMQP port in `url()`.
    public static func port() throws -> Int {
        let url = try url()
        let authority = url.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first ?? ""
        let port = try #require(authority.split(separator: ":").last.flatMap { Int($0) }, "no port in \(url)")
        return port
    }

    /// Runs `scripts/broker.sh ARGUMENT PORT [EXTRA…]` (path in `FEDQ_BROKER_SCRIPT`) and
    /// returns what it printed.
    @discardableResult
    public static func runScript(_ argument: String, _ extra: String...) async throws -> String {
        let script = try #require(
            ProcessInfo.processInfo.environment["FEDQ_BROKER_SCRIPT"],
            "FEDQ_BROKER_SCRIPT is not set: run the tests through scripts/test.sh")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-broker-script-\(UUID().uuidString).log").path
        let process = try ChildProcess(["/bin/bash", script, argument, String(try port())] + extra, outputPath: output)
        let status = await process.wait(timeout: .seconds(120))
        try #require(status == 0, "broker.sh \(argument) exited with \(status.map(String.init) ?? "nothing (timed out)")")
        defer { try? FileManager.default.removeItem(atPath: output) }
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }
}

/// Gives a suite the test broker to itself. Suites of different test targets run in
/// parallel, and some restart the broker or purge the pipeline's queues, which would
/// break another's run on them. An exclusive `flock` on a file named after the broker's
/// port serialises them; the wait polls, so it holds no thread.
public struct ExclusiveBroker: SuiteTrait, TestScoping {
    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // Without a broker the test itself fails on the missing URL.
        guard let port = try? TestBrokerNode.port() else { return try await function() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-test-broker-\(port).lock").path
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        try #require(descriptor >= 0, "cannot open \(path)")
        defer { close(descriptor) }  // releases the lock
        // A full run's broker suites take about 8 minutes together: one waiting far longer
        // means the holder hangs. Failing names the waiter instead of hanging every suite.
        let deadline = ContinuousClock.now + .seconds(20 * 60)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            try #require(ContinuousClock.now < deadline, "the test broker was held by another suite for 20 minutes: it hangs")
            try await Task.sleep(for: .milliseconds(100))
        }
        try await function()
    }
}

extension Trait where Self == ExclusiveBroker {
    public static var exclusiveBroker: Self { Self() }
}
