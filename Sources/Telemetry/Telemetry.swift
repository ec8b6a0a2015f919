import CoreMetrics
import Prometheus
import Synchronization

/// The process's metrics: swift-metrics, backed by a Prometheus registry whose every metric
/// carries its help text, set up once per process (the metrics system can be bootstrapped
/// only once) and served with the process metrics by `MetricsServer` when a command was given
/// `--metrics-port`.
public enum Telemetry {
    private static let bootstrapped = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Timers (the aggregation's duration): 100 µs to 5 s.
    static let durationBuckets: [Duration] = [
        .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    /// Bootstraps swift-metrics onto a new registry, once per process; later calls return that
    /// registry and ignore their arguments.
    /// - Parameters:
    ///   - help: each metric's `# HELP` text, by name (the catalogue of the metrics a process
    ///     may report: `PipelineMetric` for FedQueue's roles).
    ///   - valueBuckets: histogram buckets by name, for recorders that need their own.
    public static func bootstrap(help: [String: String], valueBuckets: [String: [Double]] = [:]) -> PrometheusCollectorRegistry {
        bootstrapped.withLock { registry in
            if let registry { return registry }
            let factory = DocumentedMetricsFactory(
                registry: PrometheusCollectorRegistry(), help: help, valueBuckets: valueBuckets, durationBuckets: durationBuckets)
            MetricsSystem.bootstrap(factory)
            registry = factory.registry
            return factory.registry
        }
    }

    /// What one scrape returns: `registry`'s metrics, then the process metrics read just now.
    public static func exposition(of registry: PrometheusCollectorRegistry) -> @Sendable () -> [UInt8] {
        {
            var text = registry.emitToBuffer()
            ProcessMetrics.read()?.emit(into: &text)
            return text
        }
    }

    /// Serves `registry` and the process metrics on `host:port` (see `MetricsServer.start`).
    public static func serve(
        _ registry: PrometheusCollectorRegistry, host: String, port: Int
    ) async throws(MetricsServerError) -> MetricsServer {
        try await MetricsServer.start(host: host, port: port, exposition: exposition(of: registry))
    }
}

/// swift-metrics onto a `PrometheusCollectorRegistry`, every metric with its help text.
///
/// swift-prometheus's own `PrometheusMetricsFactory` (2.4.1) registers every metric with an
/// empty help, so no `# HELP` line is written, which `promtool check metrics` refuses; and the
/// registry traps when one name is registered with two different help texts, so a metric
/// cannot be registered with its help first and then reached through that factory. This one
/// makes the same registry calls, with the help from a table.
struct DocumentedMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let help: [String: String]
    let valueBuckets: [String: [Double]]
    let durationBuckets: [Duration]

    /// The default buckets of a recorder with none of its own: counts of things, 1 to 10,000.
    static let defaultValueBuckets: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000]

    /// The metric named `name` with its help. One missing from the table still gets a `# HELP`
    /// line (promtool refuses a metric without one), one that says so.
    func describe(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "\(name): no help text in the metric catalogue")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: describe(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: describe(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: describe(label), labels: dimensions) }
        return registry.makeValueHistogram(
            descriptor: describe(label), labels: dimensions, buckets: valueBuckets[label] ?? Self.defaultValueBuckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: describe(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: describe(label), labels: dimensions, buckets: durationBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
