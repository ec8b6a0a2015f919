import CoreMetrics
import Foundation
import Roles
import Telemetry
import TestSupport
import Testing

@testable import CLISupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a role serves on `/metrics`, set up as every command sets it up (`startMetrics`), checked
/// by Prometheus's own `promtool check metrics`, which refuses a metric without HELP or TYPE.
@Suite struct MetricsEndpointTests {
    @Test func everyMetricOfARolePassesPromtool() async throws {
        let server = try await SharedOptions.serveMetrics(role: "worker", host: "127.0.0.1", port: 0)
        // Gauges are made by their first value, as a running pipeline sets them. Made here,
        // not through `PipelineMetrics`' statics: a static another test of this process
        // touched before this one bootstrapped the metrics system is bound to the no-op
        // factory for good (a role bootstraps before any metric, so it never meets this).
        Gauge(label: PipelineMetric.modelVersion.name).record(3)
        Gauge(label: PipelineMetric.evaluatedAccuracy.name).record(0.97)
        PipelineMetrics.queueReady(PipelineTopology.updatesQueue).record(12)
        Recorder(label: PipelineMetric.staleness.name).record(2)
        Gauge(label: PipelineMetric.dpEpsilon.name).record(1.5)
        Gauge(label: PipelineMetric.ldpEpsilon.name).record(7.59)
        Gauge(label: PipelineMetric.ldpClientsSpent.name).record(4)
        Gauge(label: PipelineMetric.revocationListSerial.name).record(1_796_592_956_965)

        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(server.port)/metrics")!)
        await server.shutdown()
        let text = String(decoding: data, as: UTF8.self)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)

        let check = try await Promtool.checkMetrics(text)
        #expect(check.status == 0, "promtool check metrics: \(check.output)\n\(text)")
        for metric in PipelineMetric.allCases {
            #expect(text.contains("# HELP \(metric.name) \(metric.help)\n"), "no HELP for \(metric.name)")
            #expect(text.contains("# TYPE \(metric.name) "), "no TYPE for \(metric.name)")
        }
        for (name, type, _) in ProcessMetrics.definitions {
            #expect(text.contains("# TYPE \(name) \(type)\n"), "no \(name)")
        }
        // Registered at start: a counter per rejection reason (never "stale": that is a drop), the role's reconnects.
        #expect(text.contains(#"fedq_updates_rejected_total{reason="non-finite"} 0"#))
        #expect(!text.contains(#"fedq_updates_rejected_total{reason="stale"}"#))
        #expect(text.contains(#"fedq_reconnects_total{role="worker"} 0"#))
        // Registered too (other tests in this process may have counted some: the series, not its value).
        #expect(text.contains(#"fedq_stream_partials_dropped_total{verdict="gap"} "#))
        #expect(text.contains(#"fedq_stream_claims_rejected_total{reason="unauthenticated"} "#))
    }

    /// A port in use is one line naming the address, and the command fails with it.
    @Test func aBusyPortIsOneClearError() async throws {
        let server = try await SharedOptions.serveMetrics(role: "test", host: "127.0.0.1", port: 0)
        await #expect(throws: MetricsServerError.bind(host: "127.0.0.1", port: server.port, reason: "address already in use")) {
            _ = try await SharedOptions.serveMetrics(role: "test", host: "127.0.0.1", port: server.port)
        }
        await server.shutdown()
    }
}
