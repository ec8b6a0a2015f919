import Foundation
import Learning
@testable import Roles
import Testing
import Wire

/// The coordinator's statistics decisions (merge, dedupe, freeze, late) without a broker, and
/// the federated standardisation computed through the wire messages, checked against the
/// statistics of all training rows and against the test set's own.
@Suite struct StatisticsQuorumTests {
    static let one = FeatureStatistics(count: 2, sums: [2, 10], sumsOfSquares: [2, 52])  // rows (1,4), (1,6)
    static let two = FeatureStatistics(count: 2, sums: [6, 20], sumsOfSquares: [18, 200])  // rows (3,10), (3,10)

    @Test func freezesAtTheQuorumAndCountsLateOnesWithoutMerging() {
        var quorum = StatisticsQuorum(quorum: 2, featureCount: 2)
        #expect(quorum.receive(Self.one, from: 1) == .merged(collected: 1))
        #expect(quorum.frozen == nil)
        // Rows 1,4 / 1,6 / 3,10 / 3,10: means 2 and 7.5, variances 1 and 6.75.
        let expected = Standardization(means: [2, 7.5], deviations: [1, Float(6.75.squareRoot())])
        #expect(quorum.receive(Self.two, from: 2) == .froze(expected, clients: 2))
        #expect(quorum.frozen == expected)
        #expect(quorum.receive(FeatureStatistics(count: 1, sums: [100, 100], sumsOfSquares: [1e4, 1e4]), from: 3) == .late)
        #expect(quorum.frozen == expected && quorum.lateCount == 1 && quorum.collected.count == 2)
    }

    @Test func aClientsResendCountsOnce() {
        var quorum = StatisticsQuorum(quorum: 2, featureCount: 2)
        #expect(quorum.receive(Self.one, from: 1) == .merged(collected: 1))
        #expect(quorum.receive(Self.one, from: 1) == .duplicate)
        #expect(quorum.receive(Self.two, from: 1) == .duplicate)  // the first one from client 1 stands
        #expect(quorum.frozen == nil && quorum.duplicateCount == 2 && quorum.merged.count == 2)
    }

    @Test func arrivalOrderDoesNotChangeTheStandardisation() {
        let clients = (1...6).map { seed in
            FeatureStatistics(count: seed, sums: [Double(seed) * 0.1, 1e6 + Double(seed)], sumsOfSquares: [Double(seed), 1e12 * Double(seed) + 7])
        }
        var forward = StatisticsQuorum(quorum: 6, featureCount: 2)
        var backward = forward
        for (id, statistics) in clients.enumerated() { _ = forward.receive(statistics, from: UInt64(id)) }
        for (id, statistics) in clients.enumerated().reversed() { _ = backward.receive(statistics, from: UInt64(id)) }
        #expect(forward.frozen != nil && forward.frozen == backward.frozen)
    }

    @Test func aRestoredQuorumIsFrozen() {
        let standardization = Standardization(means: [1], deviations: [2])
        var quorum = StatisticsQuorum(restoring: standardization, quorum: 5)
        #expect(quorum.receive(FeatureStatistics(count: 1, sums: [3], sumsOfSquares: [9]), from: 9) == .late)
        #expect(quorum.frozen == standardization)
    }

    /// Five clients of WDBC (Dirichlet 0.5) each compute statistics over their own rows and
    /// send them as wire bytes; the coordinator's frozen standardisation equals that of all
    /// training rows computed locally, differs from the test set's own, and survives the
    /// model section's round trip to the evaluator.
    @Test func wdbcThroughTheWireEqualsTheTrainingRowsStatistics() throws {
        let source = TableFederationTests.wdbc
        let table = try source.split(seed: 3)
        let clients = try Partition(scheme: .dirichlet(alpha: 0.5), labels: table.train.labels, clientCount: 5, seed: 3).clients
        let specHash: UInt64 = 0xABCD
        var quorum = StatisticsQuorum(quorum: 5, featureCount: 30)
        for (id, rows) in clients.enumerated() {
            let bytes = try StatisticsMessage(table.statistics(of: rows), clientID: UInt64(id), specHash: specHash).encoded()
            let received = try StatisticsMessage(bytes: bytes, featureCount: 30, specHash: specHash)
            _ = quorum.receive(FeatureStatistics(received), from: received.clientID)
            _ = quorum.receive(FeatureStatistics(received), from: received.clientID)  // a resend
        }
        let frozen = try #require(quorum.frozen)
        let local = FeatureStatistics(of: table.train).standardization
        for feature in 0..<30 {
            #expect(abs(frozen.means[feature] - local.means[feature]) <= 1e-5 * max(1, abs(local.means[feature])))
            #expect(abs(frozen.deviations[feature] - local.deviations[feature]) <= 1e-5 * max(1, local.deviations[feature]))
        }
        let testOwn = FeatureStatistics(of: table.test).standardization
        #expect(frozen != testOwn)
        #expect((0..<30).contains { abs(frozen.means[$0] - testOwn.means[$0]) > 1e-3 * abs(testOwn.means[$0]) })

        let section = try frozen.encodedSection()
        let shipped = try section.withUnsafeBytes { raw throws(WireError) in
            var reader = ByteReader(raw)
            return try Standardization(readingSection: &reader, featureCount: 30)
        }
        #expect(shipped == frozen)
    }
}
