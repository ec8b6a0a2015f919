import Aggregation
import Foundation
import Learning
import Messaging
@testable import Roles
import TestSupport
import Testing
import Trust
import Wire

/// Issue 19 item 4, the deployment form of a table federation's standardisation: clients
/// send statistics (never rows) to `fedq.q.statistics`, the coordinator publishes no version
/// before its quorum, then freezes the merge into every version and its checkpoint.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(2)))
struct TableStatisticsTests {
    let spec = try! ModelSpec.resolve("dense:4,relu,dense:2", input: .flat(3), classCount: 2)
    // Rows (1,4,0) (1,6,0) for client 1, (3,10,5) (3,10,5) for client 2.
    let one = FeatureStatistics(count: 2, sums: [2, 10, 0], sumsOfSquares: [2, 52, 0])
    let two = FeatureStatistics(count: 2, sums: [6, 20, 10], sumsOfSquares: [18, 200, 50])

    /// A coordinator store in a fresh directory, and a connection on `broker` with the
    /// pipeline's topology declared and emptied and a subscription to the models fanout.
    func freshPipeline(on broker: TestTransport) async throws -> (CoordinatorStore, TransportConnector, any Transport, Consumer) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-stats-\(UUID().uuidString.prefix(8))").path
        let store = try CoordinatorStore(directory: directory)
        let connector = try broker.connector(name: "fedq-statistics-tests")
        let setup = try await connector.connect()
        try await PipelineTopology.declare(on: setup)
        try await PipelineTopology.purge(on: setup)
        return (store, connector, setup, try await PipelineTopology.subscribeToModels(on: setup))
    }

    /// Waits up to 5 s for the coordinator to take every statistics message; whether it did.
    @discardableResult
    func waitUntilConsumed(on setup: any Transport) async throws -> Bool {
        for _ in 0..<500 {
            if try await setup.queueStatus(PipelineTopology.statisticsQueue).messageCount == 0 { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func rejection(_ body: [UInt8], _ properties: MessageProperties, _ verifier: inout StatisticsVerifier) -> StatisticsRejection? {
        if case .failure(let rejection) = verifier.check(body, properties: properties, now: 1_000) { rejection } else { nil }
    }

    /// With the issuer's key, only statistics signed under a credential it issued to the
    /// client id the body names count: not unsigned ones, not another client's credential,
    /// not an update's signature over the same bytes, not garbage.
    @Test func theCoordinatorTakesOnlyStatisticsTheIssuerAdmittedForThatClient() throws {
        let issuer = SigningKey()
        let client1 = ClientIdentity.issue(clientID: 1, notAfter: 10_000, by: issuer)
        let client2 = ClientIdentity.issue(clientID: 2, notAfter: 10_000, by: issuer)
        var verifier = StatisticsVerifier(spec: spec, issuer: issuer.publicKey)
        let (body, signed) = try PipelineMessage.encodeStatistics(one, clientID: 1, spec: spec, signedBy: client1)
        let accepted = try verifier.check(body, properties: signed, now: 1_000).get()
        #expect(accepted.clientID == 1 && accepted.statistics == one)

        let (_, unsigned) = try PipelineMessage.encodeStatistics(one, clientID: 1, spec: spec, signedBy: nil)
        #expect(rejection(body, unsigned, &verifier) == .init(reason: .unauthenticated, detail: "missing-credential"))
        // Client 2 signing statistics that claim to be client 1's.
        let (_, impostor) = try PipelineMessage.encodeStatistics(one, clientID: 1, spec: spec, signedBy: client2)
        var claimed = impostor
        claimed.headers[MessageProperties.HeaderName.signature] = .bytes(client2.sign(statistics: body).signature)
        #expect(rejection(body, claimed, &verifier) == .init(reason: .unauthenticated, detail: "client-id-mismatch"))
        // An update's signature over the same bytes is no statistics signature.
        var crossed = signed
        crossed.headers[MessageProperties.HeaderName.signature] = .bytes(client1.sign(update: body).signature)
        #expect(rejection(body, crossed, &verifier) == .init(reason: .unauthenticated, detail: "bad-signature"))
        #expect(rejection(body, signed, &verifier) == nil)

        var open = StatisticsVerifier(spec: spec, issuer: nil)
        #expect(rejection(TestUpdates.garbage, MessageProperties(), &open)?.detail == "bad-magic")
        let other = try ModelSpec.resolve("dense:4,relu,dense:2", input: .flat(4), classCount: 2)
        let (wide, _) = try PipelineMessage.encodeStatistics(
            FeatureStatistics(count: 1, sums: [1, 1, 1, 1], sumsOfSquares: [1, 1, 1, 1]), clientID: 3, spec: other, signedBy: nil)
        #expect(rejection(wide, MessageProperties(), &open)?.reason == .wrongModel)
        #expect(try open.check(body, properties: unsigned).get().clientID == 1)
    }

    /// A revoked client's statistics are refused like unsigned ones (`credential-revoked`),
    /// the others' taken, and the revoked client's again once the list lets it go.
    @Test func aRevokedClientsStatisticsAreRefused() throws {
        let issuer = SigningKey()
        let revocations = Revocations(RevocationList(clients: [1]))
        var verifier = StatisticsVerifier(spec: spec, issuer: issuer.publicKey, revocations: revocations)
        let (revokedBody, revoked) = try PipelineMessage.encodeStatistics(
            one, clientID: 1, spec: spec, signedBy: ClientIdentity.issue(clientID: 1, notAfter: 10_000, by: issuer))
        let (memberBody, member) = try PipelineMessage.encodeStatistics(
            one, clientID: 2, spec: spec, signedBy: ClientIdentity.issue(clientID: 2, notAfter: 10_000, by: issuer))
        #expect(rejection(revokedBody, revoked, &verifier) == .init(reason: .unauthenticated, detail: "credential-revoked"))
        #expect(try verifier.check(memberBody, properties: member, now: 1_000).get().clientID == 2)
        revocations.replace(with: RevocationList())
        #expect(try verifier.check(revokedBody, properties: revoked, now: 1_000).get().clientID == 1)
    }

    /// The coordinator publishes nothing until two clients' statistics arrived (a repeat of
    /// the first and a malformed message do not count), then a version 0 that carries the
    /// merged standardisation; a coordinator restarted on its checkpoint publishes at once
    /// with the very same numbers, and merges nothing more.
    @Test(arguments: TestTransport.allCases)
    func noVersionBeforeTheQuorumThenTheFrozenStandardizationSurvivesARestart(on broker: TestTransport) async throws {
        let (store, connector, setup, models) = try await freshPipeline(on: broker)
        var received = models.makeAsyncIterator()
        let initial = Network(spec: spec, seed: 1).parameters

        func coordinator(on transport: any Transport) throws -> Coordinator {
            try Coordinator(
                transport: transport, spec: spec, initialParameters: initial, strategy: AggregationStrategy(.fedAsync(mixing: 0.5)),
                optimizer: ServerOptimizer(.sgd(learningRate: 1)), store: store, tableScaling: .statistics(quorum: 2))
        }
        func send(_ statistics: FeatureStatistics, from client: UInt64) async throws {
            let (body, properties) = try PipelineMessage.encodeStatistics(statistics, clientID: client, spec: spec, signedBy: nil)
            try await setup.publish(
                body, exchange: PipelineTopology.statisticsExchange, routingKey: PipelineTopology.statisticsRoutingKey,
                properties: properties, mandatory: true)
        }

        let firstConnection = try await connector.connect()
        let first = try coordinator(on: firstConnection)
        #expect(await first.isWaitingForStatistics)
        try await first.announce()  // publishes nothing yet
        let running = Task { try await first.run() }
        try await send(one, from: 1)
        try await send(one, from: 1)
        try await setup.publish(
            TestUpdates.garbage, exchange: PipelineTopology.statisticsExchange, routingKey: PipelineTopology.statisticsRoutingKey,
            properties: MessageProperties(), mandatory: true)
        try await waitUntilConsumed(on: setup)
        try await Task.sleep(for: .milliseconds(100))
        #expect(await first.isWaitingForStatistics)
        try await send(two, from: 2)

        // The first model message of the run is version 0 with the merge: nothing went out before.
        let delivery = try #require(try await received.next())
        let model = try PipelineMessage.decodeModel(delivery, spec: spec)
        try await delivery.ack()
        var merged = one
        merged.merge(two)
        let expected = merged.standardization
        #expect(model.version == 0 && model.parameters == initial)
        #expect(model.standardization == expected)
        // Means 2, 7.5, 2.5; the third feature's deviation 2.5.
        #expect(expected.means == [2, 7.5, 2.5] && expected.deviations[2] == 2.5)
        let (frozen, waiting) = (await first.standardization, await first.isWaitingForStatistics)
        #expect(frozen == expected && !waiting)
        running.cancel()
        _ = await running.result
        await firstConnection.close()

        // A restart: the checkpoint holds the standardisation; late statistics change nothing.
        #expect(try store.load(spec: spec, strategy: "fedasync:0.5")?.model.standardization == expected)
        let secondConnection = try await connector.connect()
        let second = try coordinator(on: secondConnection)
        let secondWaits = await second.isWaitingForStatistics
        #expect(!secondWaits)
        try await second.announce()
        let again = try #require(try await received.next())
        try await again.ack()
        #expect(try PipelineMessage.decodeModel(again, spec: spec).standardization == expected)
        let resumed = Task { try await second.run() }
        try await send(FeatureStatistics(count: 1, sums: [100, 100, 100], sumsOfSquares: [1e4, 1e4, 1e4]), from: 3)
        try await waitUntilConsumed(on: setup)
        #expect(await second.standardization == expected)
        resumed.cancel()
        _ = await resumed.result
        await secondConnection.close()
        await setup.close()
        await connector.close()
    }

    /// With public bounds (`--feature-ranges`), version 0 goes out at once carrying them; a
    /// client's statistics that arrive anyway are acknowledged and never merged; the
    /// checkpoint keeps the bounds, and a restart given other bounds is refused, since every
    /// version so far meant its weights relative to the first ones.
    @Test(arguments: TestTransport.allCases)
    func publicBoundsGoOutWithVersionZeroAndStatisticsChangeNothing(on broker: TestTransport) async throws {
        let (store, connector, setup, models) = try await freshPipeline(on: broker)
        var received = models.makeAsyncIterator()
        let initial = Network(spec: spec, seed: 1).parameters
        let ranges = try FeatureRanges(parsing: "feature,min,max\nb,0,10\na,-1,1\nc,2,4\n")
        let bounds = try ranges.standardization(for: ["a", "b", "c"])
        #expect(bounds == Standardization(means: [0, 5, 3], deviations: [1, 5, 1]))

        func coordinator(on transport: any Transport, scaling: Standardization) throws -> Coordinator {
            try Coordinator(
                transport: transport, spec: spec, initialParameters: initial, strategy: AggregationStrategy(.fedAsync(mixing: 0.5)),
                optimizer: ServerOptimizer(.sgd(learningRate: 1)), store: store, tableScaling: .publicBounds(scaling))
        }
        let connection = try await connector.connect()
        let first = try coordinator(on: connection, scaling: bounds)
        #expect(!(await first.isWaitingForStatistics))
        // Checkpointed before anything is published.
        #expect(try store.load(spec: spec, strategy: "fedasync:0.5")?.model.standardization == bounds)
        try await first.announce()
        let delivery = try #require(try await received.next())
        try await delivery.ack()
        let model = try PipelineMessage.decodeModel(delivery, spec: spec)
        #expect(model.version == 0 && model.standardization == bounds)

        let running = Task { try await first.run() }
        let (body, properties) = try PipelineMessage.encodeStatistics(one, clientID: 1, spec: spec, signedBy: nil)
        try await setup.publish(
            body, exchange: PipelineTopology.statisticsExchange, routingKey: PipelineTopology.statisticsRoutingKey,
            properties: properties, mandatory: true)
        #expect(try await waitUntilConsumed(on: setup))
        try await Task.sleep(for: .milliseconds(100))
        #expect(await first.standardization == bounds)
        running.cancel()
        _ = await running.result
        await connection.close()

        // The same bounds resume; other bounds are refused, naming the checkpoint.
        let again = try await connector.connect()
        #expect(await (try coordinator(on: again, scaling: bounds)).standardization == bounds)
        let other = Standardization(means: [0, 5, 3], deviations: [2, 5, 1])
        #expect(throws: CheckpointError.otherScaling(path: store.checkpointPath)) { try coordinator(on: again, scaling: other) }
        await again.close()
        await setup.close()
        await connector.close()
    }
}
