import Foundation
import Testing

/// The 3-node RabbitMQ cluster `scripts/test.sh` started (`scripts/cluster.sh`). Tests
/// FAIL (never skip) when `FEDQ_TEST_CLUSTER` is missing or a node does not answer.
public enum TestCluster {
    /// The nodes' URLs, comma-separated, as `--broker` takes them.
    public static func urls() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["FEDQ_TEST_CLUSTER"],
            "FEDQ_TEST_CLUSTER is not set: run the tests through scripts/test.sh")
    }

    /// Runs `scripts/cluster.sh ARGUMENTS…` (path in `FEDQ_CLUSTER_SCRIPT`) and returns
    /// what it printed.
    @discardableResult
    public static func runScript(_ arguments: String...) async throws -> String {
        let script = try #require(
            ProcessInfo.processInfo.environment["FEDQ_CLUSTER_SCRIPT"],
            "FEDQ_CLUSTER_SCRIPT is not set: run the tests through scripts/test.sh")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-cluster-script-\(UUID().uuidString.prefix(6)).log").path
        let process = try ChildProcess(["/bin/bash", script] + arguments, outputPath: output)
        let status = await process.wait(timeout: .seconds(120))
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try #require(status == 0, "cluster.sh \(arguments.joined(separator: " ")) exited with \(status.map(String.init) ?? "nothing (timed out)"): \(printed)")
        return printed.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
