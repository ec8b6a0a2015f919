import Foundation
import Testing

/// Prometheus's own checker, `promtool` (Debian's `prometheus` package, which
/// scripts/lib/packages.sh installs): what FedQueue serves on `/metrics`, its scrape config and
/// its dashboard's queries are checked by the tool Prometheus itself uses. A test that needs it
/// FAILS when it is missing, never skips.
public enum Promtool {
    public struct Result: Sendable {
        public let status: Int32?
        /// Its stdout and stderr.
        public let output: String
    }

    /// promtool's path on `PATH`.
    public static func path() throws -> String {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return try #require(
            directories.map { "\($0)/promtool" }.first { FileManager.default.isExecutableFile(atPath: $0) },
            "promtool is not installed: apt-get install prometheus (scripts/lib/packages.sh installs it)")
    }

    /// `promtool check metrics`, which reads the exposition text on its standard input.
    public static func checkMetrics(_ text: String) async throws -> Result {
        let input = try temporaryFile("metrics.txt", text)
        return try await run(["check", "metrics"], standardInput: input)
    }

    /// `promtool ARGUMENTS` (e.g. `check config FILE`).
    public static func run(_ arguments: [String], standardInput: String = "/dev/null") async throws -> Result {
        let output = try temporaryFile("promtool.out", "")
        // ChildProcess hands the child no standard input; the shell opens it.
        let process = try ChildProcess(
            ["/bin/sh", "-c", #"f="$1"; shift; exec "$@" < "$f""#, "sh", standardInput, try path()] + arguments,
            outputPath: output)
        let status = await process.wait(timeout: .seconds(60))
        return Result(status: status, output: process.output)
    }

    /// A new file holding `contents`.
    public static func temporaryFile(_ name: String, _ contents: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-\(UUID().uuidString.prefix(8))-\(name)").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
