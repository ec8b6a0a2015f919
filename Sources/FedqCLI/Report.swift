import ArgumentParser
import FedqBench
import Foundation
import Report

/// `fedq report DIR`: the report `simulate` writes, for a run of separate processes.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render report.html and summary.json for a deployment's outputs (DIR/coordinator, DIR/fleet, DIR/eval).",
        discussion: """
            Exits 1 when the books do not balance: updates the fleet published that the \
            coordinator did not account as applied, dropped stale or rejected.
            """
    )

    @Argument(help: "The directory holding coordinator/, fleet/ and eval/.")
    var directory: String
    @Option(help: "The accuracy 'seconds/updates to target' refer to.")
    var targetAccuracy = 0.97
    @Option(help: "Wait up to this many seconds for the roles' summaries and for the coordinator to account for every published update.")
    var waitSettled = 0.0

    func run() async throws {
        if FileManager.default.fileExists(atPath: directory + "/loadtest.json") { return try renderLoadTest() }
        let deadline = ContinuousClock.now + .seconds(waitSettled)
        // The coordinator writes its summary every second and when it stops: a run over in
        // less (a table federation at its target by version 7) has none yet when the
        // evaluator stops; with --wait-settled it is waited for like the rest.
        var result: RunResult
        while true {
            do {
                result = try DeploymentRun.load(directory: directory, targetAccuracy: targetAccuracy)
                break
            } catch DeploymentRunError.missing where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        while result.summary.updatesPublished != settled(result.summary), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            result = try DeploymentRun.load(directory: directory, targetAccuracy: targetAccuracy)
        }
        let report = try result.write(to: directory)
        let summary = result.summary
        print(String(
            format: "%@ %.2f%%%@: %d versions, %d updates applied of %d published (%d stale, %d rejected), mean staleness %.2f",
            summary.reachedTarget ? "reached" : "did not reach", summary.targetAccuracy * 100,
            summary.secondsToTarget.map { String(format: " in %.2f s", $0) } ?? "", Int(summary.modelVersions),
            summary.updatesApplied, summary.updatesPublished, summary.updatesDroppedStale, summary.updatesRejected,
            summary.meanStaleness))
        print("report: \(report)")
        guard summary.updatesPublished == settled(summary) else {
            print("accounting mismatch: \(summary.updatesPublished) published, \(settled(summary)) settled")
            throw ExitCode(1)
        }
    }

    /// The load test's page, rendered by the load test's own module.
    private func renderLoadTest() throws {
        let (path, lines) = try LoadTestReport.write(directory: directory)
        for line in lines { print(line) }
        print("report: \(path)")
    }

    private func settled(_ summary: RunSummary) -> Int {
        summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected
    }
}
