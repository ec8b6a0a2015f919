import FedCore
import Foundation
import Roles

extension RunResult {
    /// The one-page report: accuracy against wall time and against version,
    /// the staleness histogram, throughput over time, and the settings.
    public func htmlReport() -> String {
        var report = HTMLReport(title: title)
        let percent = { (value: Double) in String(format: "%.2f%%", value * 100) }
        report.summary = [
            ("reached target", summary.reachedTarget ? "yes (\(percent(summary.targetAccuracy)))" : "no (\(percent(summary.targetAccuracy)))"),
            ("seconds to target", summary.secondsToTarget.map { String(format: "%.2f s", $0) } ?? "–"),
            ("updates to target", summary.updatesToTarget.map(String.init) ?? "–"),
            ("final accuracy", percent(summary.finalAccuracy)), ("best accuracy", percent(summary.bestAccuracy)),
            ("model versions", "\(summary.modelVersions)"), ("updates published", "\(summary.updatesPublished)"),
            ("updates applied", "\(summary.updatesApplied)"), ("dropped stale", "\(summary.updatesDroppedStale)"),
            ("rejected", "\(summary.updatesRejected)"), ("clients dropped out", "\(summary.clientsDropped)"),
            ("bytes published", ByteCount.format(summary.bytesPublished)), ("mean staleness", String(format: "%.2f", summary.meanStaleness)),
            ("wall time", String(format: "%.2f s", summary.seconds)),
        ]
        if let privacy = summary.privacy {
            report.summary.append((
                "differential privacy",
                String(
                    format: "ε %@ at δ %g over %d aggregates (clip %g, noise multiplier %g, mean sampling rate %.4f)",
                    privacy.epsilon.isFinite ? String(format: "%.3f", privacy.epsilon) : "∞ (no noise)", privacy.delta,
                    privacy.steps, privacy.clip, privacy.noiseMultiplier, privacy.samplingRate)))
            if let version = privacy.finalAverageVersion {
                report.summary.append((
                    "final model", "version \(version): the moving average of the versions, released when the budget ran out or the run ended (no ε)"))
            }
        }
        if let local = summary.localPrivacy { report.summary.append(("local differential privacy", local.description)) }
        if let note = finalBelowBest { report.summary.append(("final below best", note)) }
        if let perClass = summary.perClass ?? history.last?.perClass, perClass.count <= Self.maxClassesCharted {
            report.summary += perClass.map { ("final \($0.name)", String($0.text.dropFirst($0.name.count + 2))) }
        }
        // Accuracy zoomed to the data (from the first version well above chance, so the
        // start does not flatten the rest) with the target drawn across.
        let target = ChartReference(value: summary.targetAccuracy, label: "target \(percent(summary.targetAccuracy))")
        let shown = history.drop { $0.accuracy < 0.5 }.isEmpty ? history[...] : history.drop { $0.accuracy < 0.5 }
        report.charts = [
            SVGChart.line(
                title: "Test accuracy vs wall time", xLabel: "seconds", yLabel: "accuracy",
                series: [ChartSeries(name: "accuracy", points: shown.map { ($0.seconds, $0.accuracy) })],
                reference: summary.targetAccuracy < 1 ? target : nil, format: .percent),
            SVGChart.line(
                title: "Test accuracy vs model version", xLabel: "version", yLabel: "accuracy",
                series: [ChartSeries(name: "accuracy", points: shown.map { (Double($0.version), $0.accuracy) })],
                reference: summary.targetAccuracy < 1 ? target : nil, format: .percent),
            SVGChart.line(
                title: "Test loss vs model version", xLabel: "version", yLabel: "cross-entropy",
                // From the same version as the accuracy charts: version 0's loss would flatten the rest.
                series: [ChartSeries(name: "loss", points: shown.map { (Double($0.version), $0.loss) })]),
            SVGChart.line(
                title: "Macro-F1 vs model version", xLabel: "version", yLabel: "macro-F1",
                series: [ChartSeries(name: "macro-F1", points: shown.map { (Double($0.version), $0.macroF1) })], format: .percent),
        ]
        report.charts += perClassCharts(shown)
        // A private run: what each version cost, beside what it scored.
        let spent = history.compactMap { record in record.dpEpsilon.flatMap { $0.isFinite ? (Double(record.version), $0) : nil } }
        if !spent.isEmpty {
            report.charts.append(SVGChart.line(
                title: "Privacy spent (ε at δ \(summary.privacy.map { String(format: "%g", $0.delta) } ?? "?")) vs model version",
                xLabel: "version", yLabel: "ε", series: [ChartSeries(name: "ε", points: spent)]))
        }
        report.charts += [
            SVGChart.bars(
                title: "Staleness of applied updates", xLabel: "staleness τ (versions)", yLabel: "updates",
                bars: stalenessHistogram.enumerated().map { ChartBar(label: "\($0.offset)", value: Double($0.element)) }),
            SVGChart.line(
                title: "Updates applied per second (rolling \(Self.rateWindowLabel) mean)", xLabel: "seconds", yLabel: "updates/s",
                series: [ChartSeries(name: "updates/s", points: RateSeries.rolling(throughput, window: Self.rateWindow))], fromZero: true),
        ]
        report.settings = settings
        return report.render()
    }

    /// Per-class lines are drawn for at most this many classes (a table's few diagnoses;
    /// MNIST's ten digits would be an unreadable tangle, and its macro-F1 chart summarises them).
    static let maxClassesCharted = 6

    /// Recall and F1 of each class against model version, one line per class: the
    /// malignant class's recall is what a clinician reads first, and a macro figure can
    /// hide one class falling while the other rises.
    func perClassCharts(_ shown: ArraySlice<EvaluationRecord>) -> [String] {
        guard let names = shown.lazy.compactMap(\.perClass).first?.map(\.name),
            (1...Self.maxClassesCharted).contains(names.count)
        else { return [] }
        let metrics: [(title: String, value: KeyPath<ClassMetrics, Double>)] = [("Recall", \.recall), ("F1", \.f1)]
        return metrics.map { metric in
            SVGChart.line(
                title: "\(metric.title) per class vs model version", xLabel: "version", yLabel: metric.title.lowercased(),
                series: names.indices.map { index in
                    ChartSeries(
                        name: names[index],
                        points: shown.compactMap { record in
                            record.perClass.flatMap { $0.count == names.count ? (Double(record.version), $0[index][keyPath: metric.value]) : nil }
                        })
                }, format: .percent)
        }
    }

    /// The window the updates/s chart averages over.
    static let rateWindow = 2.0
    static let rateWindowLabel = "2 s"

    /// Why the last version scored below the best, when it did: an asynchronous run keeps
    /// applying what its clients send until it stops, and one version can be worse than the
    /// one before (more so with non-IID clients).
    var finalBelowBest: String? {
        guard let best = history.max(by: { $0.accuracy < $1.accuracy }), let last = history.last,
            last.accuracy < best.accuracy
        else { return nil }
        return String(
            format: "the final version (%llu) scored %.2f points below the best (%.2f%% at version %llu): the run kept applying the updates its clients had in flight until it stopped, and successive versions of an asynchronous run move up and down",
            last.version, (best.accuracy - last.accuracy) * 100, best.accuracy * 100, best.version)
    }

    /// The file a run's final model version is saved in, beside `summary.json`; `fedq eval
    /// --version-file` scores it again, `fedq inspect` explains it.
    public static let modelFileName = "model.msg"

    /// Writes `summary.json`, `history.csv`, `report.html` and, when there is one, the final
    /// model version as `model.msg` into `directory`.
    /// - Returns: the report's path.
    @discardableResult
    public func write(to directory: String) throws -> String {
        let folder = URL(fileURLWithPath: directory, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try summary.jsonData().write(to: folder.appendingPathComponent("summary.json"), options: .atomic)
        try Data(HistoryCSV.render(history).utf8).write(to: folder.appendingPathComponent("history.csv"), options: .atomic)
        if let finalModelMessage {
            try Data(finalModelMessage).write(to: folder.appendingPathComponent(Self.modelFileName), options: .atomic)
        }
        let report = folder.appendingPathComponent("report.html")
        try Data(htmlReport().utf8).write(to: report, options: .atomic)
        return report.path
    }
}
