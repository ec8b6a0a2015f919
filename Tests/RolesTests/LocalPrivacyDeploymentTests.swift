import Foundation
import Privacy
import TestSupport
import Testing

/// Local differential privacy as a deployment (issue 17, item 4): `fedq fleet` processes on
/// RabbitMQ whose clients noise their own updates and keep their own books in a file. The
/// fleet stops by itself when every client's budget is spent, every update it published is
/// settled once by the coordinator, and a fleet started again on the same books publishes
/// nothing.
@Suite(.exclusiveBroker, .serialized, .timeLimit(.minutes(5)))
struct LocalPrivacyDeploymentTests {
    @Test func aFleetStopsAtItsClientsBudgetsAndARestartedOneKeepsThem() async throws {
        let deployment = try await Deployment("ldp")
        let books = deployment.directory + "/ldp-books.json"
        // σ = 2 and ε = 8 per client: two updates each (LocalDifferentialPrivacyTests).
        let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 2, targetEpsilon: 8)
        #expect(privacy.releasesWithinTarget == 2)
        let local = ["--ldp-clip", "1", "--ldp-noise-multiplier", "2", "--ldp-target-epsilon", "8", "--ldp-budget-file", books]
        try deployment.start("coordinator", ["coordinator", "--checkpoint", deployment.directory + "/coordinator", "--buffer", "4"])
        try deployment.start("worker-1", ["worker"])
        let fleet = try deployment.start("fleet", ["fleet", "--clients", "4", "--batch", "50", "--out", deployment.directory + "/fleet"] + local)
        #expect(await fleet.wait(timeout: .seconds(120)) == 0, "the fleet did not stop by itself: \(fleet.output.suffix(600))")
        #expect(deployment.published().count == 8)
        try await deployment.expectEveryPublishedUpdateSettledOnce()
        #expect(deployment.settled().filter { $0.disposition == "applied" }.count == 8)
        let log = deployment.read("fleet.log")
        #expect(log.contains("each client may publish 2 updates within its target ε = 8"), "\(log.suffix(800))")
        #expect(log.contains("every client has spent its local privacy budget"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(deployment.read("fleet/summary.json").utf8)) as? [String: Any])
        #expect(summary["ldp_clients_spent"] as? Int == 4 && summary["ldp_releases"] as? Int == 2, "\(summary)")
        let epsilon = try #require(summary["ldp_epsilon"] as? Double)
        #expect(abs(epsilon - privacy.epsilon(releases: 2)) < 1e-9 && epsilon <= 8)
        #expect(summary["updates_published"] as? Int == 8)

        // The books are on disk: a new fleet process on them gives no client another update.
        let again = try deployment.start("fleet-again", ["fleet", "--clients", "4", "--out", deployment.directory + "/fleet-again"] + local)
        #expect(await again.wait(timeout: .seconds(60)) == 0, "\(again.output.suffix(600))")
        #expect(deployment.published("fleet-again").isEmpty)
        #expect(deployment.read("fleet-again.log").contains("client 2 has spent its local privacy budget"))
        await deployment.stopAll()
    }

    /// Per record: one `fedq client` of four MNIST sites (15,000 rows each) trains with DP-SGD
    /// at an expected batch of 50 (q = 1/300, 300 steps an update), or at one rate for every
    /// client (`--ldp-sampling-rate 0.003`: 334 steps, whatever the rows), publishes exactly
    /// the updates that fit ε = 1, every one settled and applied, and stops by itself; its
    /// books say what it spent per step.
    @Test(arguments: [(nil, 300), (0.003, 334)] as [(Double?, Int)])
    func aPerRecordClientStopsAtItsBudget(samplingRate: Double?, steps stepsPerUpdate: Int) async throws {
        let deployment = try await Deployment("ldp-record")
        let books = deployment.directory + "/ldp-books.json"
        let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 1, unit: .record, samplingRate: samplingRate)
        let release = privacy.release(records: 15_000, batchSize: 50, epochs: 1)
        #expect(release.steps == stepsPerUpdate && abs(release.mechanism.samplingRate - (samplingRate ?? 1.0 / 300)) < 1e-15)
        let allowed = try #require(privacy.releasesWithinTarget(each: release))
        #expect((2...40).contains(allowed), "\(allowed) updates fit")
        try deployment.start("coordinator", ["coordinator", "--checkpoint", deployment.directory + "/coordinator", "--buffer", "2"])
        try deployment.start("worker-1", ["worker"])
        let client = try deployment.start("client", [
            "client", "--client-index", "1", "--clients", "4", "--batch", "50", "--out", deployment.directory + "/fleet",
            "--ldp-unit", "record", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-target-epsilon", "1",
            "--ldp-budget-file", books,
        ] + (samplingRate.map { ["--ldp-sampling-rate", String($0)] } ?? []))
        #expect(await client.wait(timeout: .seconds(180)) == 0, "the client did not stop by itself: \(client.output.suffix(600))")
        #expect(deployment.published().count == allowed)
        try await deployment.expectEveryPublishedUpdateSettledOnce()
        let log = deployment.read("client.log")
        #expect(log.contains("local differential privacy per record (DP-SGD)"), "\(log.suffix(800))")
        let who = samplingRate == nil ? "the client with the fewest records" : "each client"
        #expect(log.contains("\(who) may publish \(allowed) updates within its target ε = 1"), "\(log.suffix(800))")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(deployment.read("fleet/summary.json").utf8)) as? [String: Any])
        #expect(summary["ldp_unit"] as? String == "record" && summary["ldp_releases"] as? Int == allowed, "\(summary)")
        #expect(summary["ldp_sampling_rate"] as? Double == samplingRate)
        let epsilon = try #require(summary["ldp_epsilon"] as? Double)
        #expect(abs(epsilon - privacy.epsilon(releases: allowed, each: release)) < 1e-9 && epsilon <= 1)
        let file = try #require(try JSONSerialization.jsonObject(with: Data(deployment.read("ldp-books.json").utf8)) as? [String: Any])
        let entry = try #require((file["clients"] as? [String: Any])?["1"] as? [String: Any])
        let steps = try #require((entry["steps"] as? [[String: Any]])?.first)
        #expect(entry["releases"] as? Int == allowed && entry["exhausted"] as? Bool == true)
        #expect(steps["steps"] as? Int == stepsPerUpdate * allowed && steps["noise_multiplier"] as? Double == 1)
        #expect(abs((steps["sampling_rate"] as? Double ?? 0) - release.mechanism.samplingRate) < 1e-15)
        await deployment.stopAll()
    }
}
