import CoreMetrics
import Prometheus

/// The process's metrics: swift-metrics, backed by a Prometheus registry, set up
/// once per process (the metrics system can be bootstrapped only once) and served
/// by `MetricsServer` when a command was given `--metrics-port`.
public enum Telemetry {
    /// The registry every metric of this process lands in.
    public static let registry: PrometheusCollectorRegistry = {
        var factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
        // Staleness is counted in versions: buckets that separate fresh from stale.
        factory.valueHistogramBuckets["fedq_update_staleness"] = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55]
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
            .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)
        return factory.registry
    }()

    /// Serves this process's metrics on `port` (bootstrapping them first).
    public static func serve(port: Int, address: String = "127.0.0.1") throws(MetricsServerError) -> MetricsServer {
        try MetricsServer(registry: registry, address: address, port: port)
    }
}
