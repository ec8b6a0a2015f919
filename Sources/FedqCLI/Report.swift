import ArgumentParser
import Foundation
import Pipeline

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
    @Option(help: "Wait up to this many seconds for the coordinator to account for every published update.")
    var waitSettled = 0.0

    func run() async throws {
        if FileManager.default.fileExists(atPath: directory + "/loadtest.json") { return try renderLoadTest() }
        var result = try DeploymentRun.load(directory: directory, targetAccuracy: targetAccuracy)
        let deadline = ContinuousClock.now + .seconds(waitSettled)
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

    /// The load test's page: latency histogram, throughput and queue depth over time, CPU per role.
    private func renderLoadTest() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let result = try decoder.decode(LoadTestResult.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/loadtest.json")))
        var report = HTMLReport(title: "FedQueue load test")
        let format = { (value: Double) in String(format: "%.1f", value) }
        report.summary = [
            ("updates aggregated / published", "\(result.updatesAggregated) / \(result.updatesPublished)"),
            ("throughput", "\(format(result.updatesPerSecond)) updates/s, \(format(result.mbPerSecond)) MB/s"),
            ("latency p50 / p90 / p99 / max", [result.latencyMs.p50, result.latencyMs.p90, result.latencyMs.p99, result.latencyMs.max].map(format).joined(separator: " / ") + " ms"),
            ("raw broker ceiling", result.rawUpdatesPerSecond.map { "\(format($0)) updates/s" } ?? "not measured (--raw)"),
            ("pipeline / raw", result.ratioToRaw.map { String(format: "%.1f%%", $0 * 100) } ?? "–"),
        ]
        report.charts = [
            SVGChart.bars(
                title: "Latency, publish → model version", xLabel: "ms (bucket upper bound)", yLabel: "updates",
                bars: result.latencyHistogram.map { ChartBar(label: String(format: "%.0f", $0[0]), value: $0[1]) }),
            SVGChart.line(
                title: "Updates aggregated per second", xLabel: "seconds", yLabel: "updates/s",
                series: [ChartSeries(name: "updates/s", points: result.throughput.map { ($0[0], $0[1]) })]),
            SVGChart.line(
                title: "Ready updates in fedq.updates", xLabel: "seconds", yLabel: "messages",
                series: [ChartSeries(name: "queue depth", points: result.queueDepth.map { ($0[0], $0[1]) })]),
            SVGChart.bars(
                title: "CPU per role over the run", xLabel: "role", yLabel: "cores",
                bars: result.cpu.map { ChartBar(label: $0.role, value: $0.cores) }),
        ]
        report.settings = [
            ("parameters", "\(result.parameters)"), ("codec", result.codec), ("message bytes", "\(result.messageBytes)"),
            ("publishers", "\(result.publishers)"), ("workers", "\(result.workers)"), ("buffer K", "\(result.buffer)"),
            ("updates per partial", "\(result.flushUpdates)"), ("target rate", result.targetRate.map { format($0) } ?? "as fast as possible"),
        ]
        let path = directory + "/report.html"
        try report.render().write(toFile: path, atomically: true, encoding: .utf8)
        for line in LoadTestCommand.lines(result) { print(line) }
        print("report: \(path)")
    }

    private func settled(_ summary: RunSummary) -> Int {
        summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected
    }
}
