import CoreMetrics
import Testing

@testable import Telemetry

/// Every metric made through swift-metrics gets the `# HELP` line of its name, whatever its type.
@Suite struct DocumentedMetricsFactoryTests {
    static func factory() -> DocumentedMetricsFactory {
        DocumentedMetricsFactory(
            registry: .init(),
            help: [
                "t_total": "A counter.", "t_gauge": "A gauge.", "t_histogram": "A histogram.", "t_seconds": "A timer.",
                "t_labelled_total": #"Split by kind, with a backslash \ in it."#,
            ],
            valueBuckets: ["t_histogram": [1, 2]], durationBuckets: [.seconds(1)])
    }

    @Test func everyTypeGetsItsHelpAndType() {
        let factory = Self.factory()
        factory.makeCounter(label: "t_total", dimensions: []).increment(by: 2)
        factory.makeRecorder(label: "t_gauge", dimensions: [], aggregate: false).record(Int64(5))
        factory.makeRecorder(label: "t_histogram", dimensions: [], aggregate: true).record(Int64(2))
        factory.makeTimer(label: "t_seconds", dimensions: []).recordNanoseconds(500_000_000)
        factory.makeCounter(label: "t_labelled_total", dimensions: [("kind", "a")]).increment(by: 1)
        factory.makeCounter(label: "t_labelled_total", dimensions: [("kind", "b")]).increment(by: 1)
        let text = factory.registry.emitToString()
        for (name, type, help) in [
            ("t_total", "counter", "A counter."), ("t_gauge", "gauge", "A gauge."), ("t_histogram", "histogram", "A histogram."),
            ("t_seconds", "histogram", "A timer."), ("t_labelled_total", "counter", #"Split by kind, with a backslash \\ in it."#),
        ] {
            #expect(text.contains("# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"), "\(name) in \(text)")
        }
        // One HELP per name, however many label sets.
        #expect(text.components(separatedBy: "# HELP t_labelled_total ").count == 2)
        #expect(text.contains(#"t_histogram_bucket{le="2.0"} 1"#))
        #expect(text.contains(#"t_seconds_bucket{le="1.0"} 1"#))
    }

    /// The same name made twice (two `Counter(label:)` of one metric) is one series, not a trap
    /// over two help texts, as swift-prometheus's own factory would meet after a registration.
    @Test func makingAMetricAgainReturnsTheSameSeries() {
        let factory = Self.factory()
        factory.makeCounter(label: "t_total", dimensions: []).increment(by: 1)
        factory.makeCounter(label: "t_total", dimensions: []).increment(by: 1)
        #expect(factory.registry.emitToString().contains("t_total 2\n"))
    }

    @Test func aMetricMissingFromTheTableStillHasAHelpLine() {
        let factory = Self.factory()
        factory.makeCounter(label: "unknown_total", dimensions: []).increment(by: 1)
        #expect(factory.registry.emitToString().contains("# HELP unknown_total unknown_total: no help text in the metric catalogue\n"))
    }
}
