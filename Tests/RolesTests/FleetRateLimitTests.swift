import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
@testable import Roles
import TestSupport
import Testing
import Trust

/// One signed client floods two competing workers on the default quorum queue with 12
/// updates at one version, beside 12 honest clients. Each worker takes 4 of its updates
/// (`--max-client-rate`), so two let 8 through. Each worker sends the client's first update
/// beside the honest ones and its later ones alone; the coordinator refuses those beyond 4
/// in the aggregate, and takes the mixed partials whole, so the client gets 4 to 6 (4 + one
/// a worker at most) and every honest update counts. The control arm runs without the
/// coordinator's limit: 8. On both brokers.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct FleetRateLimitTests {
    static let spec = try! ModelSpec.synthetic(parameters: 8)
    static let flooder: UInt64 = 9

    @Test(arguments: TestTransport.allCases, [true, false])
    func aClientGetsItsShareOfAnAggregateHoweverManyWorkersTakeItsUpdates(on broker: TestTransport, limited: Bool) async throws {
        let (connector, setup, _, coordinatorConnection) = try await RevocationDistributionTests.pipeline(on: broker)
        let issuer = SigningKey()
        var defences = UpdateDefences.off
        defences.updatesPerClientVersion = 4
        let settings = WorkerSettings(flushUpdates: 4, staleness: StalenessPolicy(), defences: defences, issuer: issuer.publicKey)
        // K = 100: nothing is applied until the test drains the buffer, so one aggregate holds everything.
        let coordinator = try Coordinator(
            transport: coordinatorConnection, spec: Self.spec, initialParameters: [Float](repeating: 0, count: 8),
            strategy: AggregationStrategy(.fedBuff(bufferSize: 100)), optimizer: ServerOptimizer(.sgd(learningRate: 1)),
            updatesPerClient: limited ? 4 : nil)
        try await coordinator.announce()
        let coordinating = Task { try await coordinator.run() }
        defer { coordinating.cancel() }

        var workers: [(Task<Void, any Error>, any Transport)] = []
        for _ in 0..<2 {
            let connection = try await connector.connect()
            let worker = try AggregatorWorker(transport: connection, spec: Self.spec, settings: settings)
            workers.append((Task { try await worker.run() }, connection))
        }
        for _ in 0..<500 where try await setup.queueStatus(PipelineTopology.updatesQueue).consumerCount < 2 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await setup.queueStatus(PipelineTopology.updatesQueue).consumerCount == 2)

        let expiry = UInt64(Date().timeIntervalSince1970) + 3600
        func publish(_ value: Float, client: UInt64) async throws {
            let (body, header) = try TestUpdates.update(value, spec: Self.spec, client: client)
            let properties = PipelineMessage.signed(
                update: PipelineMessage.properties(for: header), body: body, by: .issue(clientID: client, notAfter: expiry, by: issuer))
            try await setup.publish(
                body, exchange: PipelineTopology.updatesExchange, routingKey: UpdateShards.routingKey(client: client),
                properties: properties, mandatory: true)
        }
        // The flooder's updates move the model by 1 each, the honest ones by 0.01. The order
        // alternates in pairs, so that the broker's round robin gives each worker 6 of each.
        for index in UInt64(0)..<12 {
            if index % 2 == 0 { try await publish(1, client: Self.flooder) }
            try await publish(0.01, client: 100 + index)
            if index % 2 == 1 { try await publish(1, client: Self.flooder) }
        }
        // Every update booked or buffered before the aggregate is applied.
        for _ in 0..<1500 where await coordinator.accounting.settled + coordinator.bufferedUpdates < 24 {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await coordinator.drain()
        let books = await coordinator.accounting
        let moved = Double(await coordinator.model.parameters[0])
        // Applied = 12 honest + what the flooder got; the model says how many of each.
        let flooderApplied = books.applied - 12
        #expect(abs(moved - (Double(flooderApplied) + 0.12) / 100) < 1e-4, "every honest update counts once: moved \(moved), \(books)")
        #expect(books.applied + books.rejected[.rateLimited, default: 0] == 24 && books.rejectedTotal == books.rejected[.rateLimited, default: 0], "\(books)")
        // What was parked: the workers' refusals (updates), and with the limit the coordinator's partials.
        let details = try await RevocationDistributionTests.parkedDetails(on: setup)
        let refusedAlone = details.filter { $0.contains("beyond their client's 4 in the aggregate") }
        if limited {
            #expect((4...6).contains(flooderApplied), "the flooder's share across both workers: \(books)")
            #expect(refusedAlone.count == 8 - flooderApplied, "its excess travelled alone and was refused: \(details)")
        } else {
            // The control: each worker's own limit alone lets more through.
            #expect(flooderApplied == 8, "two workers, 4 each: \(books)")
            #expect(refusedAlone.isEmpty, "\(details)")
        }
        for (running, connection) in workers {
            running.cancel()
            _ = await running.result
            await connection.close()
        }
    }
}
