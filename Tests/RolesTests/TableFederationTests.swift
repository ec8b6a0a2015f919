import Foundation
import Learning
import Report
import Simulation
import TestSupport
import Testing

/// Issue 19 item 4: the pipeline on a medical table (data/wdbc, 569 biopsies, 30
/// features) instead of MNIST: rows split by seed, standardised from the clients' own
/// statistics, and per-class metrics for the final model.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct TableFederationTests {
    static let wdbc = TableSource(path: packageRoot + "/data/wdbc/wdbc.csv", label: "diagnosis")

    /// The statistics merged client by client are those of every training row, never of
    /// the test rows: the training features come out centred, the test features do not.
    @Test func standardisationComesFromTheClientsStatisticsAlone() throws {
        let prepared = try Self.wdbc.prepare(seed: 3) { labels throws(PartitionError) in
            try Partition(scheme: .dirichlet(alpha: 0.5), labels: labels, clientCount: 5, seed: 3).clients
        }
        #expect(prepared.classNames == ["benign", "malignant"])
        #expect(prepared.train.count + prepared.test.count == 569)
        #expect(prepared.test.count == 71 + 42)  // 20% of 357 benign and of 212 malignant, rounded
        let train = FeatureStatistics(of: prepared.train)
        let test = FeatureStatistics(of: prepared.test)
        for feature in 0..<30 {
            #expect(abs(train.sums[feature] / Double(train.count)) < 1e-4, "training mean of feature \(feature)")
            let variance = train.sumsOfSquares[feature] / Double(train.count)
            #expect(abs(variance - 1) < 1e-3, "training variance of feature \(feature)")
        }
        // Held-out rows keep their own offsets: nothing was fitted on them.
        #expect((0..<30).contains { abs(test.sums[$0] / Double(test.count)) > 0.01 })
    }

    /// Five "hospitals" with label skew (Dirichlet 0.5) reach 96% on the held-out rows,
    /// within 1.7 points of the centralised logistic-regression reference (97.7%), and the
    /// summary carries precision, recall and F1 per class, on both brokers.
    @Test(arguments: TestTransport.allCases)
    func fiveHospitalsReachNinetySixPercentWithPerClassMetrics(on broker: TestTransport) async throws {
        var config = SimulationConfig()
        config.table = Self.wdbc
        config.classNames = ["benign", "malignant"]
        config.model = try ModelSpec.resolve("dense:64,relu,dense:2", input: .flat(30), classCount: 2)
        config.clients = 5
        config.concurrency = 5
        config.partition = .dirichlet(alpha: 0.5)
        config.targetAccuracy = 0.96
        config.maxSeconds = 60
        config.evaluationInterval = .milliseconds(50)
        let connector = try broker.connector(name: "fedq-table-tests")
        let result = try await Simulation(config: config).run(connect: connector.connect)
        await connector.close()
        let summary = result.summary
        #expect(summary.reachedTarget)
        #expect(summary.finalAccuracy >= 0.96, "final accuracy \(summary.finalAccuracy)")
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
        let perClass = try #require(summary.perClass)
        #expect(perClass.map(\.name) == ["benign", "malignant"])
        let malignant = try #require(perClass.last)
        #expect(malignant.recall > 0.85 && malignant.precision > 0.85, "malignant \(malignant)")
        // The JSON a script reads.
        let json = try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any]
        let entries = try #require(json?["per_class"] as? [[String: Any]])
        #expect(entries.count == 2 && entries.allSatisfy { $0["recall"] is Double && $0["f1"] is Double })
    }
}
