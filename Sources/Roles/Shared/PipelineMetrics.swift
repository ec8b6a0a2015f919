import Aggregation
import CoreMetrics
import FedCore
import Messaging

/// Every metric a FedQueue process reports: the one catalogue of names, with the type and the
/// help text `/metrics` serves for each (`Telemetry` registers them with it, and the Grafana
/// dashboard's test checks its queries against these names). Adding a metric is adding a case
/// here; the compiler then asks for its kind and its help.
public enum PipelineMetric: String, CaseIterable, Sendable {
    case updatesReceived = "fedq_updates_received_total"
    case updatesApplied = "fedq_updates_applied_total"
    case updatesDroppedStale = "fedq_updates_dropped_stale_total"
    case updatesRejected = "fedq_updates_rejected_total"
    case updatesPublished = "fedq_updates_published_total"
    case partialsFlushed = "fedq_partials_flushed_total"
    case partialsReceived = "fedq_partials_received_total"
    case staleness = "fedq_update_staleness"
    case modelVersion = "fedq_model_version"
    case aggregationDuration = "fedq_aggregation_duration_seconds"
    case evaluatedAccuracy = "fedq_evaluated_accuracy"
    case reconnects = "fedq_reconnects_total"
    case queueReady = "fedq_queue_ready_messages"
    case dpEpsilon = "fedq_dp_epsilon"
    case modelsRejected = "fedq_models_rejected_total"
    case modelRequestsRefused = "fedq_model_requests_refused_total"
    case updatesClipped = "fedq_updates_clipped_total"
    case statisticsReceived = "fedq_statistics_received_total"
    case statisticsRejected = "fedq_statistics_rejected_total"
    case streamPartialsDropped = "fedq_stream_partials_dropped_total"
    case streamClaimsRejected = "fedq_stream_claims_rejected_total"
    case streamOffsetsLost = "fedq_stream_offsets_lost_total"
    case revocationListSerial = "fedq_revocation_list_serial"
    case returnsRequested = "fedq_partial_returns_requested_total"
    case updatesReturned = "fedq_updates_returned_total"
    case clientLimitOverruns = "fedq_client_limit_overruns_total"
    case partialsPostponed = "fedq_partials_postponed_total"
    case ldpEpsilon = "fedq_ldp_epsilon"
    case ldpClientsSpent = "fedq_ldp_clients_spent"

    /// What swift-metrics type makes it, and so its Prometheus type.
    public enum Kind: Sendable, Equatable {
        /// `Counter`: a Prometheus counter.
        case counter
        /// `Gauge`: a Prometheus gauge.
        case gauge
        /// `Recorder` (aggregating): a Prometheus histogram with these buckets.
        case histogram(buckets: [Double])
        /// `Timer`: a Prometheus histogram in seconds.
        case timer
    }

    /// The Prometheus name.
    public var name: String { rawValue }

    public var kind: Kind {
        switch self {
        case .updatesReceived, .updatesApplied, .updatesDroppedStale, .updatesRejected, .updatesPublished, .partialsFlushed,
            .partialsReceived, .reconnects, .modelsRejected, .modelRequestsRefused, .updatesClipped, .statisticsReceived,
            .statisticsRejected, .streamPartialsDropped, .streamClaimsRejected, .streamOffsetsLost, .returnsRequested,
            .updatesReturned, .clientLimitOverruns, .partialsPostponed:
            .counter
        case .modelVersion, .evaluatedAccuracy, .queueReady, .dpEpsilon, .revocationListSerial, .ldpEpsilon, .ldpClientsSpent: .gauge
        // Staleness is counted in versions: buckets that separate fresh from stale.
        case .staleness: .histogram(buckets: [0, 1, 2, 3, 5, 8, 13, 21, 34, 55])
        case .aggregationDuration: .timer
        }
    }

    /// The label its series are split by, if any.
    public var label: String? {
        switch self {
        case .updatesRejected, .modelsRejected, .statisticsRejected, .streamClaimsRejected: "reason"
        case .streamPartialsDropped: "verdict"
        case .reconnects: "role"
        case .queueReady: "queue"
        default: nil
        }
    }

    /// The `# HELP` line: what is counted, by which role. Counters count this process's work
    /// since it started.
    public var help: String {
        switch self {
        case .updatesReceived: "Client updates this worker took from fedq.q.updates, valid or not."
        case .updatesApplied: "Updates the coordinator applied to the global model."
        case .updatesDroppedStale: "Updates the coordinator settled as dropped: staler than the strategy allows."
        case .updatesRejected: "Updates the coordinator settled as rejected, by reason (the names of updates.csv)."
        case .updatesPublished: "Client updates this process published and the broker confirmed."
        case .partialsFlushed: "Partial aggregates this worker published to the fedq.partials exchange."
        case .partialsReceived: "Partial aggregates the coordinator took from fedq.q.partials."
        case .staleness: "Staleness of each applied update: model versions between its base and the version it was applied to."
        case .modelVersion: "The global model's version: how many aggregates the coordinator has applied."
        case .aggregationDuration: "Seconds the coordinator took to apply one aggregate to the model (strategy and server optimizer)."
        case .evaluatedAccuracy: "Test accuracy (0 to 1) of the last model version the evaluator scored."
        case .reconnects: "Times this role reconnected to the broker after losing its connection."
        case .queueReady: "Messages ready in a queue, sampled every second: how far its consumers lag behind."
        case .dpEpsilon: "Differential privacy: the epsilon the coordinator's applied aggregates have spent, at the run's delta."
        case .modelsRejected:
            "Model versions and version notices this subscriber dropped, by reason: undecodable or another model's, or (with --coordinator-key) unauthenticated."
        case .updatesClipped:
            "Updates this worker scaled down to its norm bound (--clip, or --dp-clip) before adding them: a rising rate means large or hostile updates."
        case .statisticsReceived:
            "Clients' feature statistics the coordinator of a table federation took from fedq.q.statistics and accepted (merged, repeated or late)."
        case .statisticsRejected:
            "Statistics messages the coordinator refused, by reason: undecodable, another model's or width, or (with --issuer-key) unauthenticated."
        case .modelRequestsRefused:
            "Model requests the coordinator did not answer: their reply_to named a queue that is not a subscriber's own (amq.gen-…)."
        case .streamPartialsDropped:
            "Stream partials the coordinator dropped by the offsets they cover: copy (taken before), superseded (read under an old claim, read again by the new one) or gap (parked; the reader is sent back)."
        case .streamOffsetsLost:
            "Offsets of a stream shard that retention removed before this worker read them: client updates lost, at most that many (docs/cluster.md, Retention)."
        case .revocationListSerial:
            "Serial of the revocation list the coordinator signed last, or this worker took from its notices last (milliseconds since 1970 when it was signed): every worker should show the coordinator's."
        case .returnsRequested:
            "Partials the coordinator parked because they mixed counted and new updates (a replay, or a copy two workers raced over), asking their worker for the new updates back."
        case .updatesReturned:
            "Updates this worker summed again, each alone, because the coordinator asked them back; those it no longer kept are logged, and booked as duplicates by the coordinator."
        case .clientLimitOverruns:
            "Updates the coordinator took beyond their client's share of an aggregate (--max-client-rate) because their partial held other clients' updates too, which refusing it would have cost."
        case .partialsPostponed:
            "Differential privacy: partials the coordinator held back to a later aggregate because the one it was filling held one of their clients already (one update per client per aggregate)."
        case .ldpEpsilon:
            "Local differential privacy: the largest epsilon any client of this process has spent on its own updates, at its delta (--ldp-delta)."
        case .ldpClientsSpent:
            "Local differential privacy: clients of this process whose budget (--ldp-target-epsilon) allows no further update; they are retired."
        case .streamClaimsRejected:
            "Stream shard claims refused (coordinator: a broken announcement) and claim answers dropped (worker: broken, unsigned or not the coordinator's), by reason."
        }
    }

    /// Each metric's help text by name, for `Telemetry.bootstrap(help:)`.
    public static let helpTexts = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0.help) })

    /// The histograms' buckets by name, for `Telemetry.bootstrap(valueBuckets:)`.
    public static let valueBuckets = Dictionary(uniqueKeysWithValues: allCases.compactMap { metric in
        if case .histogram(let buckets) = metric.kind { (metric.name, buckets) } else { nil }
    })
}

/// The metrics every role reports through swift-metrics, under the names of `PipelineMetric`.
/// They are made on first use, after a command bootstrapped the metrics system, and cost
/// nothing when it never was (tests, `simulate` without `--metrics-port`). Counters count this
/// process's work: they restart at zero with the process, as Prometheus expects;
/// `summary.json` has the run's totals.
public enum PipelineMetrics {
    public static let updatesReceived = Counter(label: PipelineMetric.updatesReceived.name)
    public static let updatesApplied = Counter(label: PipelineMetric.updatesApplied.name)
    public static let updatesDroppedStale = Counter(label: PipelineMetric.updatesDroppedStale.name)
    public static let updatesPublished = Counter(label: PipelineMetric.updatesPublished.name)
    public static let partialsFlushed = Counter(label: PipelineMetric.partialsFlushed.name)
    public static let partialsReceived = Counter(label: PipelineMetric.partialsReceived.name)
    public static let returnsRequested = Counter(label: PipelineMetric.returnsRequested.name)
    public static let updatesReturned = Counter(label: PipelineMetric.updatesReturned.name)
    public static let clientLimitOverruns = Counter(label: PipelineMetric.clientLimitOverruns.name)
    public static let partialsPostponed = Counter(label: PipelineMetric.partialsPostponed.name)
    /// Staleness τ of each applied update, in versions.
    public static let staleness = Recorder(label: PipelineMetric.staleness.name)
    public static let modelVersion = Gauge(label: PipelineMetric.modelVersion.name)
    /// Time to apply one aggregate to the model (strategy, optimizer).
    public static let aggregationDuration = Timer(
        label: PipelineMetric.aggregationDuration.name, preferredDisplayUnit: .seconds)
    public static let evaluatedAccuracy = Gauge(label: PipelineMetric.evaluatedAccuracy.name)
    public static let dpEpsilon = Gauge(label: PipelineMetric.dpEpsilon.name)
    public static let ldpEpsilon = Gauge(label: PipelineMetric.ldpEpsilon.name)
    public static let ldpClientsSpent = Gauge(label: PipelineMetric.ldpClientsSpent.name)
    public static let revocationListSerial = Gauge(label: PipelineMetric.revocationListSerial.name)
    public static let modelRequestsRefused = Counter(label: PipelineMetric.modelRequestsRefused.name)
    public static let updatesClipped = Counter(label: PipelineMetric.updatesClipped.name)
    public static let statisticsReceived = Counter(label: PipelineMetric.statisticsReceived.name)
    /// Stream offsets retention removed before a worker read them (updates lost).
    public static let streamOffsetsLost = Counter(label: PipelineMetric.streamOffsetsLost.name)

    /// Stream partials dropped by the coordinator's ledger, by verdict (`copy`, `superseded`, `gap`).
    public static func streamPartialsDropped(_ verdict: String) -> Counter {
        Counter(label: PipelineMetric.streamPartialsDropped.name, dimensions: [("verdict", verdict)])
    }

    /// Shard claims and claim answers refused (`StreamClaimMessage`).
    public static func streamClaimsRejected(_ reason: RejectionReason) -> Counter {
        Counter(label: PipelineMetric.streamClaimsRejected.name, dimensions: [("reason", reason.name)])
    }

    /// Statistics messages the coordinator refused (`StatisticsVerifier`).
    public static func statisticsRejected(_ reason: RejectionReason) -> Counter {
        Counter(label: PipelineMetric.statisticsRejected.name, dimensions: [("reason", reason.name)])
    }

    public static func rejected(_ reason: RejectionReason) -> Counter {
        Counter(label: PipelineMetric.updatesRejected.name, dimensions: [("reason", reason.name)])
    }

    /// Model messages a subscriber (fleet, client, evaluator, a worker's version listener) dropped.
    public static func modelsRejected(_ reason: RejectionReason) -> Counter {
        Counter(label: PipelineMetric.modelsRejected.name, dimensions: [("reason", reason.name)])
    }

    public static func reconnects(_ role: String) -> Counter {
        Counter(label: PipelineMetric.reconnects.name, dimensions: [("role", role)])
    }

    /// Ready messages in `queue`: how far consumers lag behind.
    public static func queueReady(_ queue: String) -> Gauge {
        Gauge(label: PipelineMetric.queueReady.name, dimensions: [("queue", queue)])
    }

    /// Makes this process's counters and histograms now, at zero, so the first scrape has them
    /// and a dashboard's `rate()` sees the first increment: every unlabelled one, a rejection
    /// counter per reason (for updates, models, statistics and stream claims), the stream
    /// partials' drop counters and `role`'s reconnect counter. Gauges are left to their first value:
    /// one at zero would claim a version or an accuracy the process never had.
    public static func register(role: String) {
        for metric in PipelineMetric.allCases where metric.label == nil {
            switch metric.kind {
            case .counter: _ = Counter(label: metric.name)
            case .histogram: _ = Recorder(label: metric.name)
            case .timer: _ = Timer(label: metric.name)
            case .gauge: break
            }
        }
        for reason in RejectionReason.allCases where reason.isRejection { _ = rejected(reason) }
        for reason in ModelVerifier.reasons { _ = modelsRejected(reason) }
        for reason in ModelVerifier.reasons { _ = statisticsRejected(reason) }
        for reason in [RejectionReason.malformed, .unauthenticated] { _ = streamClaimsRejected(reason) }
        for verdict in ["copy", "superseded", "gap"] { _ = streamPartialsDropped(verdict) }
        _ = reconnects(role)
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
