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
}
