import Aggregation
import CoreMetrics
import FedCore
import Messaging

/// The metrics every role reports through swift-metrics (Prometheus names). They
/// are made on first use, after a command bootstrapped the metrics system, and
/// cost nothing when it never was (tests, `simulate` without `--metrics-port`).
/// Counters count this process's work: they restart at zero with the process, as
/// Prometheus expects; `summary.json` has the run's totals.
public enum PipelineMetrics {
    public static let updatesReceived = Counter(label: "fedq_updates_received_total")
    public static let updatesApplied = Counter(label: "fedq_updates_applied_total")
    public static let updatesDroppedStale = Counter(label: "fedq_updates_dropped_stale_total")
    public static let updatesPublished = Counter(label: "fedq_updates_published_total")
    public static let partialsFlushed = Counter(label: "fedq_partials_flushed_total")
    public static let partialsReceived = Counter(label: "fedq_partials_received_total")
    /// Staleness τ of each applied update, in versions.
    public static let staleness = Recorder(label: "fedq_update_staleness")
    public static let modelVersion = Gauge(label: "fedq_model_version")
    /// Time to apply one aggregate to the model (strategy, optimizer).
    public static let aggregationDuration = Timer(label: "fedq_aggregation_duration_seconds", preferredDisplayUnit: .seconds)
    public static let evaluatedAccuracy = Gauge(label: "fedq_evaluated_accuracy")

    public static func rejected(_ reason: RejectionReason) -> Counter {
        Counter(label: "fedq_updates_rejected_total", dimensions: [("reason", reason.name)])
    }

    public static func reconnects(_ role: String) -> Counter {
        Counter(label: "fedq_reconnects_total", dimensions: [("role", role)])
    }

    /// Ready messages in `queue`: how far consumers lag behind.
    public static func queueReady(_ queue: String) -> Gauge {
        Gauge(label: "fedq_queue_ready_messages", dimensions: [("queue", queue)])
    }

    /// Samples `queue`'s depth every second until cancelled.
    public static func watch(_ queue: String, on transport: any Transport) async throws {
        let gauge = queueReady(queue)
        while true {
            if let status = try? await transport.queueStatus(queue) { gauge.record(status.messageCount) }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
