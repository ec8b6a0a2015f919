import Foundation
import Report
import Testing

@testable import FedqCLI

/// `fedq report DIR --wait-settled S` on a deployment's outputs (`Fixtures/table-deployment`:
/// a real `scripts/demo.sh --rabbitmq` run of a table federation with `--feature-ranges`,
/// which reached its target by version 7 in under a second, the checkpoint left out).
struct ReportCommandTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/table-deployment").path

    /// A copy of the fixture without the coordinator's summary, as the evaluator found it
    /// when the run was shorter than the coordinator's first summary.
    func deploymentWithoutCoordinatorSummary() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-report-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: directory)
        try FileManager.default.removeItem(atPath: directory + "/coordinator/summary.json")
        return directory
    }

    /// The summary that appears while the report waits is read, and the books balance.
    @Test func aSummaryWrittenWhileTheReportWaitsIsRead() async throws {
        let directory = try deploymentWithoutCoordinatorSummary()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let command = try #require(try Fedq.parseAsRoot(["report", directory, "--wait-settled", "10", "--target-accuracy", "0.96"]) as? Report)
        let started = ContinuousClock.now
        let late = Task {
            try await Task.sleep(for: .milliseconds(700))
            try FileManager.default.copyItem(
                atPath: Self.fixture + "/coordinator/summary.json", toPath: directory + "/coordinator/summary.json")
        }
        try await command.run()
        try await late.value
        #expect(ContinuousClock.now - started >= .milliseconds(700))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/summary.json"))) as? [String: Any]
        #expect(summary?["updates_applied"] as? Int == 70)
        #expect(summary?["updates_published"] as? Int == 70)
        #expect(summary?["reached_target"] as? Bool == true)
        #expect(FileManager.default.fileExists(atPath: directory + "/report.html"))
    }

    /// Without the wait, or past it, a missing summary is the same one-line error as before.
    @Test(arguments: [0.0, 1.0])
    func aSummaryThatNeverComesIsStillMissing(wait: Double) async throws {
        let directory = try deploymentWithoutCoordinatorSummary()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let command = try #require(try Fedq.parseAsRoot(["report", directory, "--wait-settled", "\(wait)"]) as? Report)
        let started = ContinuousClock.now
        await #expect(throws: DeploymentRunError.self) { try await command.run() }
        let waited = ContinuousClock.now - started
        // It waited out `wait` and then gave up: the upper bound only tells giving up from
        // waiting on forever (a busy shared machine once took 6 s past a 1 s wait here).
        #expect(waited >= .seconds(wait) && waited < .seconds(wait + 60))
    }
}
