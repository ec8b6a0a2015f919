import FedCore
@testable import Learning
@testable import Roles
import Messaging
import Privacy
@testable import Report
import Simulation
import Foundation
import Testing

@Suite struct HistoryCSVTests {
    @Test func roundTripsRecords() throws {
        let records = [
            EvaluationRecord(version: 1, seconds: 0.5, accuracy: 0.5, loss: 1.25, macroF1: 0.45),
            EvaluationRecord(version: 12, seconds: 3.125, accuracy: 0.97125, loss: 0.1, macroF1: 0.97),
        ]
        let text = HistoryCSV.render(records)
        #expect(text.hasPrefix("version,seconds,accuracy,loss,macro_f1\n1,0.500,0.500000,1.250000,0.450000\n"))
        #expect(try HistoryCSV.parse(text) == records)
    }

    static func diagnosis(_ malignantRecall: Double) -> [ClassMetrics] {
        [ClassMetrics(name: "benign", precision: 0.96, recall: 0.99, f1: 0.975),
         ClassMetrics(name: "malignant", precision: 0.975, recall: malignantRecall, f1: 0.95)]
    }

    /// A table's run writes three columns per class after the base ones (and after
    /// dp_epsilon), and reads them back to the same figures.
    @Test func perClassColumnsRoundTrip() throws {
        let records = [
            EvaluationRecord(version: 1, seconds: 0.5, accuracy: 0.9, loss: 0.3, macroF1: 0.88, dpEpsilon: 0.5, perClass: Self.diagnosis(0.81)),
            EvaluationRecord(version: 7, seconds: 2.25, accuracy: 0.96, loss: 0.1, macroF1: 0.96, dpEpsilon: 1.25, perClass: Self.diagnosis(0.93)),
        ]
        let text = HistoryCSV.render(records)
        let lines = text.split(separator: "\n")
        #expect(lines[0] == "version,seconds,accuracy,loss,macro_f1,dp_epsilon,precision_benign,recall_benign,f1_benign,precision_malignant,recall_malignant,f1_malignant")
        #expect(lines[2] == "7,2.250,0.960000,0.100000,0.960000,1.250000,0.960000,0.990000,0.975000,0.975000,0.930000,0.950000")
        #expect(try HistoryCSV.parse(text) == records)
        // Without ε the class columns follow macro_f1 directly.
        let plain = records.map { var record = $0; record.dpEpsilon = nil; return record }
        #expect(HistoryCSV.render(plain).hasPrefix(HistoryCSV.header + ",precision_benign,"))
        #expect(try HistoryCSV.parse(HistoryCSV.render(plain)) == plain)
        #expect(try HistoryCSV.parse(HistoryCSV.render(plain)).last?.perClass?.last?.recall == 0.93)
    }

    /// Each class's figures come from the confusion matrix, under the class's own name.
    @Test func classMetricsNameEachClassFromTheConfusionMatrix() throws {
        // 4 benign (3 right), 4 malignant (2 right, 2 called benign).
        let confusion = ConfusionMatrix(actual: [0, 0, 0, 0, 1, 1, 1, 1], predicted: [0, 0, 0, 1, 1, 1, 0, 0], classCount: 2)
        let metrics = try #require(ClassMetrics.of(Evaluation(loss: 0.5, confusion: confusion), names: ["benign", "malignant"]))
        #expect(metrics.map(\.name) == ["benign", "malignant"])
        #expect(metrics[1].recall == 0.5 && abs(metrics[1].precision - 2.0 / 3) < 1e-12)
        #expect(metrics[0].recall == 0.75 && metrics[0].precision == 0.6)
        #expect(abs(metrics[1].f1 - 2 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5)) < 1e-12)
        #expect(metrics[1].text == "malignant: recall 50.00%, precision 66.67%, F1 0.5714")
        #expect(ClassMetrics.of(Evaluation(loss: 0.5, confusion: confusion), names: ["only one"]) == nil)
    }

    @Test(arguments: [
        "version,seconds,accuracy,loss,macro_f1,precision_a,recall_a",
        "version,seconds,accuracy,loss,macro_f1,precision_a,recall_b,f1_a",
        "version,seconds,accuracy,loss,macro_f1,recall_a,precision_a,f1_a",
    ])
    func refusesAMangledClassHeader(header: String) {
        #expect(throws: HistoryCSVError.badHeader(found: header)) { try HistoryCSV.parse(header + "\n") }
    }

    @Test func namesTheBadLine() {
        let text = "version,seconds,accuracy,loss,macro_f1\n1,0.5,0.5,1,0.4\n2,x,0.5,1,0.4\n"
        #expect(throws: HistoryCSVError.badRow(line: 3, text: "2,x,0.5,1,0.4")) { try HistoryCSV.parse(text) }
        #expect(throws: HistoryCSVError.badHeader(found: "a,b")) { try HistoryCSV.parse("a,b\n") }
    }
}

@Suite struct SVGChartTests {
    @Test func lineChartDrawsEveryPointInsideThePlot() throws {
        let svg = SVGChart.line(
            title: "Accuracy <test>", xLabel: "s", yLabel: "acc",
            series: [ChartSeries(name: "a", points: [(0, 0.1), (5, 0.9), (10, 0.97)])])
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        #expect(svg.contains("Accuracy &lt;test&gt;"))
        let points = try #require(svg.firstRange(of: "points=\"").map { svg[$0.upperBound...].prefix { $0 != "\"" } })
        let pairs = points.split(separator: " ").map { $0.split(separator: ",").compactMap { Double($0) } }
        #expect(pairs.count == 3)
        for pair in pairs {
            #expect((SVGChart.margin.left...(SVGChart.width - SVGChart.margin.right)).contains(pair[0]))
            #expect((SVGChart.margin.top...SVGChart.baseline).contains(pair[1]))
        }
        // The first point sits on the left axis, the last one on the right end.
        #expect(pairs[0][0] == SVGChart.margin.left)
        #expect(pairs[2][0] == SVGChart.width - SVGChart.margin.right)
    }

    @Test func barChartHasOneBarPerBin() {
        let svg = SVGChart.bars(title: "Staleness", xLabel: "τ", yLabel: "updates",
                                bars: (0..<7).map { ChartBar(label: "\($0)", value: Double($0 * $0)) })
        #expect(svg.components(separatedBy: "<rect").count - 1 == 7)
    }

    @Test func emptyDataSaysSo() {
        #expect(SVGChart.line(title: "T", xLabel: "x", yLabel: "y", series: []).contains("no data"))
    }

    @Test(arguments: [(0.7, 1.0), (1.3, 2.0), (3.0, 5.0), (7.0, 10.0), (0.023, 0.05)])
    func niceSteps(raw: Double, nice: Double) {
        #expect(abs(SVGChart.Axis.niceStep(raw) - nice) < 1e-12)
    }

    @Test func reportIsOnePageWithEverySection() {
        var report = HTMLReport(title: "Run")
        report.summary = [("final accuracy", "97.1%")]
        report.settings = [("clients", "100")]
        report.charts = [SVGChart.bars(title: "h", xLabel: "x", yLabel: "y", bars: [ChartBar(label: "0", value: 1)])]
        let html = report.render()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for needle in ["<h2>Summary</h2>", "97.1%", "<h2>Plots</h2>", "<svg", "<h2>Settings</h2>", "clients"] {
            #expect(html.contains(needle))
        }
        #expect(!html.contains("<script"))
    }

    @Test func aRollingMeanSmoothsTheRate() {
        let sawtooth: [(x: Double, y: Double)] = [(0, 0), (0.5, 80), (1, 0), (1.5, 80), (2, 0), (2.5, 80)]
        let smooth = RateSeries.rolling(sawtooth, window: 1)
        // Each point averages itself and those less than one unit before it.
        #expect(smooth.map(\.y) == [0, 40, 40, 40, 40, 40])
        #expect(smooth.map(\.x) == sawtooth.map(\.x))
        #expect(RateSeries.rolling([], window: 2).isEmpty)
    }

    @Test(arguments: [(950, "950 B"), (12_345, "12.3 kB"), (478_200_000, "478.2 MB"), (4_017_200_000, "4.02 GB")])
    func byteCountsReadAsPeopleWriteThem(bytes: Int, text: String) {
        #expect(ByteCount.format(bytes) == text)
    }

    @Test func accuracyIsZoomedInPercentWithTheTargetDrawn() {
        let chart = SVGChart.line(
            title: "acc", xLabel: "v", yLabel: "a", series: [ChartSeries(name: "a", points: [(0, 0.91), (1, 0.95), (2, 0.962)])],
            reference: ChartReference(value: 0.97, label: "target 97.00%"), format: .percent)
        #expect(chart.contains("target 97.00%") && chart.contains("stroke-dasharray"))
        // Ticks in percent, zoomed to 90-98%, not 0-100%.
        #expect(chart.contains(">92%<") && chart.contains(">96%<"))
        #expect(!chart.contains(">0%<") && !chart.contains(">50%<"))
    }

    func result(accuracies: [Double]) -> RunResult {
        RunResult(
            summary: RunSummary(targetAccuracy: 0.97, finalAccuracy: accuracies.last ?? 0, bestAccuracy: accuracies.max() ?? 0, bytesPublished: 120_500_000),
            history: accuracies.enumerated().map {
                EvaluationRecord(version: UInt64($0.offset), seconds: Double($0.offset), accuracy: $0.element, loss: 1 - $0.element, macroF1: $0.element - 0.01)
            },
            throughput: [(0, 10), (0.25, 70), (0.5, 0)], stalenessHistogram: [3, 1], settings: [("clients", "100")])
    }

    /// A deployment's outputs as the roles write them, with `fleet` as the fleet's summary.
    static func deploymentDirectory(fleet: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-deploy-\(UUID().uuidString.prefix(6))").path
        for folder in ["coordinator", "fleet", "eval"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
        }
        try """
            {"model_versions": 2, "updates_applied": 20, "updates_dropped_stale": 0, "updates_rejected": 0, "rejected_by_reason": {},
             "mean_staleness": 0.5, "staleness_histogram": [10, 10], "seconds": 3.0, "reconnects": 0, "final": true,
             "updates_published": null, "model": "mlp", "strategy": "fedbuff:10", "server_optimizer": "sgd:1"}
            """.write(toFile: directory + "/coordinator/summary.json", atomically: true, encoding: .utf8)
        try fleet.write(toFile: directory + "/fleet/summary.json", atomically: true, encoding: .utf8)
        try HistoryCSV.render([
            EvaluationRecord(version: 1, seconds: 1, accuracy: 0.9, loss: 0.3, macroF1: 0.89, perClass: HistoryCSVTests.diagnosis(0.8)),
            EvaluationRecord(version: 2, seconds: 2, accuracy: 0.95, loss: 0.2, macroF1: 0.94, perClass: HistoryCSVTests.diagnosis(0.9)),
        ]).write(toFile: directory + "/eval/history.csv", atomically: true, encoding: .utf8)
        try (SettlementRecord.header + (0..<20).map { "\(UpdateID.random()),applied,,\($0 < 10 ? 1 : 2),\(100.0 + Double($0) / 10)\n" }.joined())
            .write(toFile: directory + "/coordinator/updates.csv", atomically: true, encoding: .utf8)
        return directory
    }

    static let plainFleet = """
        {"clients": 20, "updates_published": 20, "bytes_published": 4017200, "clients_dropped": 0, "reconnects": 0, "seconds": 3.0, "codec": "int8"}
        """

    @Test func aDeploymentReportIsTitledAsOneAndNamesHowTheRunAggregated() throws {
        let directory = try Self.deploymentDirectory(fleet: Self.plainFleet)
        let run = try DeploymentRun.load(directory: directory, targetAccuracy: 0.97)
        let html = run.htmlReport()
        #expect(html.contains("<title>FedQueue deployment: separate processes over RabbitMQ</title>"))
        for setting in ["mlp", "fedbuff:10", "sgd:1", "int8", "4.0 MB"] { #expect(html.contains(setting), "no \(setting)") }
        // The evaluator's last row gives the deployment's per-class figures.
        #expect(run.summary.perClass == HistoryCSVTests.diagnosis(0.9))
        #expect(html.contains("Recall per class vs model version"))
        #expect(run.summary.localPrivacy == nil && !html.contains("local differential privacy"))
    }

    /// A fleet under local DP: the report and its `summary.json` say what the clients spent,
    /// as `simulate`'s do.
    @Test func aDeploymentReportStatesTheClientsLocalPrivacySpend() throws {
        let fleet = """
            {"clients": 20, "updates_published": 20, "bytes_published": 4017200, "clients_dropped": 0, "reconnects": 0, "seconds": 3.0,
             "ldp_unit": "record", "ldp_epsilon": 1.986, "ldp_delta": 1e-05, "ldp_clip": 1, "ldp_noise_multiplier": 2,
             "ldp_releases": 14, "ldp_clients_spent": 20}
            """
        let run = try DeploymentRun.load(directory: try Self.deploymentDirectory(fleet: fleet), targetAccuracy: 0.97)
        let expected = LocalPrivacySummary(
            unit: .record, epsilon: 1.986, delta: 1e-5, clip: 1, noiseMultiplier: 2, releases: 14, clientsSpent: 20)
        #expect(run.summary.localPrivacy == expected)
        #expect(run.htmlReport().contains("ε up to 1.986 per client at δ 1e-05, per record (the most updates one client published: 14"))
        let json = try #require(try JSONSerialization.jsonObject(with: run.summary.jsonData()) as? [String: Any])
        #expect(json["ldp_unit"] as? String == "record" && json["ldp_clients_spent"] as? Int == 20)
    }

    @Test func longBarLabelsGoOnTwoLines() {
        let roles = ["coordinator", "worker-1", "worker-2", "publishers (this process)", "broker (pid 4242)"]
        let chart = SVGChart.bars(title: "CPU", xLabel: "role", yLabel: "cores", bars: roles.map { ChartBar(label: $0, value: 0.5) })
        #expect(chart.contains(">publishers</tspan>") && chart.contains(">(this process)</tspan>"))
        #expect(chart.contains(">broker</tspan>") && chart.contains(">(pid 4242)</tspan>"))
        let short = SVGChart.bars(title: "h", xLabel: "x", yLabel: "y", bars: [ChartBar(label: "0", value: 1)])
        #expect(!short.contains("<tspan"))
    }

    /// A two-class table: recall and F1 per class over versions, and the final figures of
    /// each class in the summary, the malignant recall among them.
    @Test func aTableRunChartsRecallAndF1PerClass() {
        var run = result(accuracies: [0.5, 0.9, 0.95])
        run.history = run.history.enumerated().map { var record = $0.element; record.perClass = HistoryCSVTests.diagnosis(0.8 + 0.05 * Double($0.offset)); return record }
        let html = run.htmlReport()
        for needle in ["Recall per class vs model version", "F1 per class vs model version", ">malignant</text>", ">benign</text>",
                       "final malignant", "recall 90.00%, precision 97.50%, F1 0.9500"] {
            #expect(html.contains(needle), "no \(needle)")
        }
        // One line per class in each of the two charts.
        let perClassCharts = html.components(separatedBy: "per class vs model version").dropFirst()
        #expect(perClassCharts.count == 2)
        for chart in perClassCharts {
            let svg = chart.components(separatedBy: "</svg>")[0]
            #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        }
    }

    /// Ten digits would be a tangle of lines: MNIST keeps the macro-F1 chart only.
    @Test func tenClassesGetNoPerClassCharts() {
        var run = result(accuracies: [0.5, 0.9])
        let digits = (0..<10).map { ClassMetrics(name: "\($0)", precision: 0.9, recall: 0.9, f1: 0.9) }
        run.history = run.history.map { var record = $0; record.perClass = digits; return record }
        let html = run.htmlReport()
        #expect(!html.contains("per class vs model version") && !html.contains("final 3"))
        #expect(html.contains("Macro-F1 vs model version"))
    }

    @Test func theReportPlotsLossAndF1AndExplainsAFinalBelowTheBest() {
        let dipped = result(accuracies: [0.1, 0.93, 0.9701, 0.955]).htmlReport()
        for needle in ["Test loss vs model version", "Macro-F1 vs model version", "rolling 2 s mean", "120.5 MB", "target 97.00%",
                       "final below best", "1.51 points below the best (97.01% at version 2)"] {
            #expect(dipped.contains(needle), "no \(needle)")
        }
        #expect(!result(accuracies: [0.1, 0.93, 0.96]).htmlReport().contains("final below best"))
    }
}

@Suite struct SlowdownSpecTests {
    @Test(arguments: [
        ("none", SlowdownSpec.none),
        ("lognormal:1.0", .lognormal(sigma: 1)),
        ("stragglers:0.1x10", .stragglers(fraction: 0.1, factor: 10)),
    ])
    func parses(spec: String, expected: SlowdownSpec) throws {
        #expect(try SlowdownSpec(parsing: spec) == expected)
    }

    @Test(arguments: ["", "fast", "lognormal", "lognormal:-1", "stragglers:0.1", "stragglers:2x10", "stragglers:0.1x0.5"])
    func refuses(spec: String) {
        #expect(throws: SlowdownSpecError.self) { try SlowdownSpec(parsing: spec) }
    }

    @Test func stragglersAreExactlyTheFraction() {
        var rng = SystemRandomNumberGenerator()
        let factors = SlowdownSpec.stragglers(fraction: 0.1, factor: 10).factors(clients: 100, using: &rng)
        #expect(factors.filter { $0 == 10 }.count == 10)
        #expect(factors.filter { $0 == 1 }.count == 90)
    }

    @Test func lognormalFactorsAreAtLeastOneAndSpread() {
        var rng = SystemRandomNumberGenerator()
        let factors = SlowdownSpec.lognormal(sigma: 1).factors(clients: 2000, using: &rng)
        #expect(factors.allSatisfy { $0 >= 1 })
        // Half the draws have z > 0; their median factor is e^{0.674} ≈ 1.96.
        let slow = factors.filter { $0 > 1 }.sorted()
        #expect((900...1100).contains(slow.count))
        #expect((1.7...2.3).contains(slow[slow.count / 2]))
    }
}

@Suite struct RunSummaryTests {
    @Test func targetNeverReachedIsNullNotMissing() throws {
        let summary = RunSummary(reachedTarget: false, targetAccuracy: 1, finalAccuracy: 0.97, updatesPublished: 600)
        let json = try #require(String(data: summary.jsonData(), encoding: .utf8))
        #expect(json.contains("\"seconds_to_target\" : null"))
        #expect(json.contains("\"updates_to_target\" : null"))
        #expect(try JSONDecoder().decode(RunSummary.self, from: summary.jsonData()) == summary)
    }
}
