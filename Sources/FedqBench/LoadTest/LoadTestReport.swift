import Foundation
import Report

/// The load test's one-page HTML report (`fedq report DIR` on a load test's directory).
public enum LoadTestReport {
    /// Writes `directory/report.html` from `directory/loadtest.json`: latency histogram,
    /// throughput and queue depth over time, CPU per role. Returns its path and the
    /// summary lines the load test prints.
    public static func write(directory: String) throws -> (path: String, lines: [String]) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let result = try decoder.decode(LoadTestResult.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/loadtest.json")))
        var report = HTMLReport(title: "FedQueue load test")
        let format = { (value: Double) in String(format: "%.1f", value) }
        report.summary = [
            ("updates aggregated / published", "\(result.updatesAggregated) / \(result.updatesPublished)"
                + (result.clients.map { ", from \($0) client ids" } ?? "")),
            ("refused (settled, not applied)", result.rejectedByReason.map(RejectionCounts.text) ?? "not recorded"),
            ("throughput", "\(format(result.updatesPerSecond)) updates/s, \(format(result.mbPerSecond)) MB/s"),
            ("latency p50 / p90 / p99 / max", [result.latencyMs.p50, result.latencyMs.p90, result.latencyMs.p99, result.latencyMs.max].map(format).joined(separator: " / ") + " ms"),
            ("disk writes (every disk of the machine)", result.diskBytesWritten.map { written in
                String(format: "%.0f MB, %.2f bytes per byte published", written / 1e6, result.diskBytesPerPublishedByte ?? 0)
            } ?? "not measured"),
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
                title: "Ready updates in fedq.q.updates", xLabel: "seconds", yLabel: "messages",
                series: [ChartSeries(name: "queue depth", points: result.queueDepth.map { ($0[0], $0[1]) })]),
            // The machine's total is every process's, not a role's: it is in the summary.
            SVGChart.bars(
                title: "CPU per role over the run", xLabel: "role", yLabel: "cores",
                bars: result.cpu.filter { !$0.role.hasPrefix("machine") }.map { ChartBar(label: $0.role, value: $0.cores) }),
        ]
        if let machine = result.cpu.first(where: { $0.role.hasPrefix("machine") }) {
            report.summary.append(("machine busy (every process, all cores)", String(format: "%.2f cores", machine.cores)))
        }
        report.settings = [
            ("parameters", "\(result.parameters)"), ("codec", result.codec), ("message bytes", "\(result.messageBytes)"),
            ("publishers", "\(result.publishers)"), ("workers", "\(result.workers)"), ("buffer K", "\(result.buffer)"),
            ("updates per partial", "\(result.flushUpdates)"), ("target rate", result.targetRate.map { format($0) } ?? "as fast as possible"),
        ]
        let path = directory + "/report.html"
        try report.render().write(toFile: path, atomically: true, encoding: .utf8)
        return (path, LoadTestCommand.lines(result))
    }
}
