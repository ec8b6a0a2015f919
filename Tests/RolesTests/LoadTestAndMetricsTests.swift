import Roles
import Messaging
import Report
import Simulation
import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `fedq loadtest` and the roles' `/metrics` against the real broker, as processes.
@Suite(.exclusiveBroker, .serialized, .timeLimit(.minutes(5)))
struct LoadTestAndMetricsTests {
    @Test func loadTestAggregatesEveryUpdateItPublished() async throws {
        let deployment = try await Deployment("loadtest")
        let json = deployment.directory + "/result.json"
        let run = try deployment.start("loadtest", [
            "loadtest", "--updates", "400", "--workers", "2", "--publishers", "2", "--buffer", "20", "--flush-updates", "10",
            "--raw", "--json", json, "--out", deployment.directory + "/out",
        ])
        // The coordinator and workers it starts must not carry the broker's password on
        // their command lines, which every user of the machine can read.
        let password = try #require(URLComponents(string: deployment.broker)?.password)
        let roleCommandLines = await Self.childCommandLines(of: run, atLeast: 3)
        #expect(await run.wait(timeout: .seconds(240)) == 0, "loadtest failed: \(run.output.suffix(600))")
        #expect(roleCommandLines.count >= 3, "saw \(roleCommandLines.count) role processes")
        #expect(roleCommandLines.filter { $0.contains("worker") }.count == 2, "\(roleCommandLines)")
        for line in roleCommandLines {
            #expect(!line.contains(password) && !line.contains("--broker"), "a role's command line holds the broker URL")
        }
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect(result["updates_published"] as? Int == 400)
        #expect(result["updates_aggregated"] as? Int == 400)
        #expect(result["clients"] as? Int == 1_000 && (result["rejected_by_reason"] as? [String: Int]) == [:], "an honest fleet's rate refuses nothing")
        #expect((result["message_bytes"] as? Int ?? 0) > 199_210)
        let latency = try #require(result["latency_ms"] as? [String: Double])
        let (p50, p90, p99, max) = (latency["p50"] ?? -1, latency["p90"] ?? -1, latency["p99"] ?? -1, latency["max"] ?? -1)
        #expect(0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max, "\(latency)")
        let perSecond = try #require(result["updates_per_second"] as? Double)
        let raw = try #require(result["raw_updates_per_second"] as? Double)
        #expect(perSecond > 0 && raw > 0)
        // The broker accepted the 400 before the last of them was settled: the accepted rate
        // (to the last confirm) is at least the end-to-end one (to the last settlement).
        let accepted = try #require(result["accepted_per_second"] as? Double)
        #expect(accepted >= perSecond, "accepted \(accepted) < end to end \(perSecond)")
        // What the machine's disks wrote, and that over the 400 updates' bytes. (Not a lower
        // bound: a broker whose files are on tmpfs writes nothing to a disk.)
        let written = try #require(result["disk_bytes_written"] as? Double)
        let perByte = try #require(result["disk_bytes_per_published_byte"] as? Double)
        let messageBytes = Double(result["message_bytes"] as? Int ?? 0)
        #expect(written >= 0 && abs(perByte - written / (400 * messageBytes)) < 1e-9, "\(written) B, \(perByte) per byte")
        #expect(run.output.contains("disk writes (every disk of this machine)"))
        #expect(abs((result["ratio_to_raw"] as? Double ?? 0) - perSecond / raw) < 1e-9)
        // The machine's busy cores hold every process's, the broker's among them. /proc counts
        // in 10 ms ticks, floored per field and per core, which over a window of well under a
        // second can move a figure by a few hundredths of a core either way.
        for key in ["cpu", "raw_cpu"] {
            let cpu = try #require(result[key] as? [[String: Any]])
            let cores = { (prefix: String) in cpu.first { ($0["role"] as? String)?.hasPrefix(prefix) == true }?["cores"] as? Double }
            let machine = try #require(cores("machine"), "\(key): \(cpu)")
            let broker = try #require(cores("broker"), "\(key): \(cpu)")
            #expect(broker > 0 && machine >= broker - 0.1, "\(key): machine \(machine), broker \(broker)")
            #expect(machine <= Double(ProcessInfo.processInfo.activeProcessorCount) + 0.2, "\(key): machine \(machine)")
        }
        // The coordinator's own books agree: 400 applied, nothing else.
        let settled = deployment.read("out/coordinator/updates.csv").split(separator: "\n").dropFirst()
        #expect(settled.count == 400 && settled.allSatisfy { $0.contains(",applied,") })
        await deployment.stopAll()
    }

    /// A signed fleet too small for its rate, as processes: 400 updates from 20 clients taking
    /// turns, whom the two workers and the coordinator hold to 4 each per aggregate (each
    /// worker's first update of a client rides beside the others and is taken whole, so up to
    /// 4 + 2). No version holds more than 20 × 6 = 120 updates, the rest are refused
    /// `rate-limited`, and every one of the 400 is settled once.
    @Test func aSignedFleetTooSmallForItsRateGetsItsShareOfEachAggregate() async throws {
        let deployment = try await Deployment("loadtest-rate")
        let json = deployment.directory + "/result.json"
        let run = try deployment.start("loadtest", [
            "loadtest", "--updates", "400", "--workers", "2", "--buffer", "100", "--flush-updates", "10", "--sign", "--clients", "20",
            "--json", json, "--out", deployment.directory + "/out",
        ])
        #expect(await run.wait(timeout: .seconds(240)) == 0, "loadtest failed: \(run.output.suffix(600))")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect(result["updates_aggregated"] as? Int == 400 && result["clients"] as? Int == 20)
        let refused = try #require(result["rejected_by_reason"] as? [String: Int])
        #expect(Set(refused.keys) == ["rate-limited"] && refused["rate-limited", default: 0] > 0, "\(refused)")
        #expect(run.output.contains("refused (settled, not applied): rate-limited \(refused["rate-limited", default: 0])"))
        let lines = deployment.read("out/coordinator/updates.csv").split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(lines.count == 400)
        let applied = lines.filter { $0[1] == "applied" }
        #expect(applied.count + refused["rate-limited", default: 0] == 400)
        let perVersion = Dictionary(grouping: applied, by: { $0[3] }).mapValues(\.count)
        #expect(!perVersion.isEmpty && perVersion.values.allSatisfy { $0 <= 120 }, "applied per version: \(perVersion.sorted { $0.key < $1.key })")
        await deployment.stopAll()
    }

    /// The stream path (issue 21): two stream shards, each read by the worker holding its
    /// claim; every update published is aggregated once.
    @Test func loadTestOnTheStreamPathAggregatesEveryUpdateOnce() async throws {
        let deployment = try await Deployment("loadtest-stream")
        let json = deployment.directory + "/result.json"
        let run = try deployment.start("loadtest", [
            "loadtest", "--updates", "400", "--workers", "2", "--update-shards", "2", "--updates-queue", "stream",
            "--publishers", "2", "--buffer", "20", "--flush-updates", "10", "--json", json, "--out", deployment.directory + "/out",
        ])
        #expect(await run.wait(timeout: .seconds(240)) == 0, "loadtest failed: \(run.output.suffix(600))")
        #expect(run.output.contains("2 stream update queues"))
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect(result["updates_published"] as? Int == 400)
        #expect(result["updates_aggregated"] as? Int == 400)
        let settled = deployment.read("out/coordinator/updates.csv").split(separator: "\n").dropFirst()
        #expect(settled.count == 400 && settled.allSatisfy { $0.contains(",applied,") })
        #expect(Set(settled.map { $0.split(separator: ",")[0] }).count == 400)
        // Both workers read a shard.
        for worker in ["out/worker-1.log", "out/worker-2.log"] {
            #expect(deployment.read(worker).contains("stream shard claimed"), "\(worker) claimed no shard")
        }
        await deployment.stopAll()
        // The next tests expect quorum update queues.
        _ = try await Deployment("after-loadtest-stream", fresh: true)
    }

    @Test func metricsEndpointsServePrometheusTextMatchingTheSummary() async throws {
        let deployment = try await Deployment("metrics")
        let coordinator = try deployment.start(
            "coordinator", ["coordinator", "--checkpoint", deployment.directory + "/coordinator", "--metrics-port", "0", "--strategy", "fedasync"])
        let worker = try deployment.start("worker", ["worker", "--metrics-port", "0"])
        let client = try await TestBroker.connect()
        try await TestUpdates.publishGarbage(on: client)
        try await TestUpdates.publish(try TestUpdates.nanUpdate(), on: client)
        for value in [0.01, 0.02, 0.03] as [Float] { try await TestUpdates.publish(try TestUpdates.update(value), on: client) }
        await client.close()
        try await deployment.waitUntil("five updates settled", timeout: .seconds(30)) { deployment.settled().count == 5 }
        // Past one summary refresh (every second).
        try await Task.sleep(for: .milliseconds(1500))

        let coordinatorMetrics = try await Self.scrape(try Self.metricsPort(coordinator))
        let workerMetrics = try await Self.scrape(try Self.metricsPort(worker))
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(deployment.read("coordinator/summary.json").utf8)) as? [String: Any])
        let reasons = try #require(summary["rejected_by_reason"] as? [String: Int])
        #expect(coordinatorMetrics["fedq_updates_applied_total"] == Double(summary["updates_applied"] as? Int ?? -1))
        #expect(coordinatorMetrics["fedq_updates_applied_total"] == 3)
        #expect(coordinatorMetrics["fedq_updates_rejected_total{reason=\"malformed\"}"] == Double(reasons["malformed"] ?? -1))
        #expect(coordinatorMetrics["fedq_updates_rejected_total{reason=\"non-finite\"}"] == Double(reasons["non-finite"] ?? -1))
        #expect(coordinatorMetrics["fedq_model_version"] == Double(summary["model_versions"] as? Int ?? -1))
        #expect(coordinatorMetrics["fedq_update_staleness_count"] == 3)
        #expect(workerMetrics["fedq_updates_received_total"] == 5)
        #expect((workerMetrics["fedq_partials_flushed_total"] ?? 0) >= 2)
        await deployment.stopAll()
    }

    /// The other role commands, and `simulate`, serve metrics that `promtool check metrics`
    /// accepts too (`scrape` runs it; the coordinator's and the worker's are checked above).
    /// With no coordinator, the clients and the evaluator wait for a model: no update flows.
    @Test func everyRoleServesMetricsPromtoolAccepts() async throws {
        let deployment = try await Deployment("metrics-roles")
        let directory = deployment.directory
        let roles: [(name: String, arguments: [String])] = [
            ("fleet", ["fleet", "--clients", "2", "--out", directory + "/fleet"]),
            ("client", ["client", "--clients", "2", "--client-index", "1", "--out", directory + "/client"]),
            ("eval", ["eval", "--test-samples", "100", "--out", directory + "/eval"]),
            ("simulate", ["simulate", "--broker", "embedded", "--clients", "4", "--max-seconds", "120", "--out", directory + "/simulate"]),
        ]
        let processes = try roles.map { try deployment.start($0.name, $0.arguments + ["--metrics-port", "0"]) }
        for (role, process) in zip(roles, processes) {
            try await deployment.waitUntil("\(role.name) serves metrics", timeout: .seconds(60)) {
                process.output.contains("metrics on http://")
            }
            _ = try await Self.scrape(try Self.metricsPort(process))
        }
        await deployment.stopAll()
    }

    /// The port a role printed for `--metrics-port 0`.
    /// The command lines (arguments joined by spaces) of `parent`'s child processes, read from
    /// `/proc` as any user could, polled until at least `count` were seen or `parent` ended.
    static func childCommandLines(of parent: ChildProcess, atLeast count: Int) async -> [String] {
        var seen: [Int32: String] = [:]
        let deadline = ContinuousClock.now + .seconds(120)
        while seen.count < count, ContinuousClock.now < deadline, kill(parent.pid, 0) == 0 {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            for pid in entries.compactMap(Int32.init) where seen[pid] == nil {
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")")
                else { continue }
                // Field 4, the parent's pid, is the second after the command name.
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 1, Int32(fields[1]) == parent.pid,
                      let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
                else { continue }
                seen[pid] = String(decoding: cmdline.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return Array(seen.values)
    }

    static func metricsPort(_ process: ChildProcess) throws -> Int {
        let match = try #require(process.output.firstMatch(of: /metrics on http:\/\/\S+:(\d+)\/metrics/), "no metrics line in \(process.output)")
        return try #require(Int(match.1))
    }

    /// Fetches `/metrics` and checks it is Prometheus text that `promtool check metrics`
    /// accepts (every metric with its HELP and TYPE): `name{labels} value` samples, every value
    /// a number, with the process metrics among them.
    static func scrape(_ port: Int) async throws -> [String: Double] {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let check = try await Promtool.checkMetrics(String(decoding: data, as: UTF8.self))
        #expect(check.status == 0, "promtool check metrics on :\(port): \(check.output)")
        var samples: [String: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") { continue }
            // A label value may hold spaces (`role="client 1"`): the value follows the last one.
            let match = try #require(line.wholeMatch(of: /([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)/), "not Prometheus text: \(line)")
            let value = try #require(Double(match.2), "not a number: \(line)")
            samples[String(match.1)] = value
        }
        #expect(samples["process_start_time_seconds"] != nil && samples["process_resident_memory_bytes"] != nil)
        return samples
    }
}
