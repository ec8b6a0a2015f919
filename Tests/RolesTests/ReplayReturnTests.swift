import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
@testable import Roles
import TestSupport
import Testing
import Trust

/// A signed replay that reaches another worker than its first copy, on the default single
/// quorum queue: the worker sums it beside new updates, and the coordinator, which cannot
/// split that partial, parks it and asks the worker for the new updates back. Every honest
/// update counts once; without the worker's shelf the same run loses them (booked as
/// duplicates), which is what the test tells apart. On both brokers.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct ReplayReturnTests {
    static let spec = try! ModelSpec.synthetic(parameters: 8)

    @Test(arguments: TestTransport.allCases, [true, false])
    func aReplayAtAnotherWorkerCostsNoHonestUpdateWhenItsPartialsUpdatesComeBack(on broker: TestTransport, shelf: Bool) async throws {
        let (connector, setup, _, coordinatorConnection) = try await RevocationDistributionTests.pipeline(on: broker)
        let issuer = SigningKey()
        var settings = WorkerSettings(flushUpdates: 8, staleness: StalenessPolicy(), defences: .off, issuer: issuer.publicKey)
        if !shelf { settings.returnShelfBytes = 0 }
        let coordinator = try Coordinator(
            transport: coordinatorConnection, spec: Self.spec, initialParameters: [Float](repeating: 0, count: 8),
            strategy: AggregationStrategy(.fedBuff(bufferSize: 1)), optimizer: ServerOptimizer(.sgd(learningRate: 0.1)))
        try await coordinator.announce()
        let coordinating = Task { try await coordinator.run() }
        defer { coordinating.cancel() }

        let expiry = UInt64(Date().timeIntervalSince1970) + 3600
        func signed(_ client: UInt64) throws -> (body: [UInt8], properties: MessageProperties) {
            let (body, header) = try TestUpdates.update(0.01, spec: Self.spec, client: client)
            let properties = PipelineMessage.signed(
                update: PipelineMessage.properties(for: header), body: body, by: .issue(clientID: client, notAfter: expiry, by: issuer))
            return (body, properties)
        }
        func publish(_ update: (body: [UInt8], properties: MessageProperties), client: UInt64) async throws {
            try await setup.publish(
                update.body, exchange: PipelineTopology.updatesExchange, routingKey: UpdateShards.routingKey(client: client),
                properties: update.properties, mandatory: true)
        }
        func run(_ worker: AggregatorWorker) async throws -> Task<Void, any Error> {
            let running = Task { try await worker.run() }
            for _ in 0..<500 where try await setup.queueStatus(PipelineTopology.updatesQueue).consumerCount < 1 {
                try await Task.sleep(for: .milliseconds(10))
            }
            return running
        }

        // Worker A sums ten clients' updates, which are applied; then it is gone.
        let originals = try (UInt64(0)..<10).map(signed)
        let firstConnection = try await connector.connect()
        let first = try await run(AggregatorWorker(transport: firstConnection, spec: Self.spec, settings: settings))
        for (client, update) in originals.enumerated() { try await publish(update, client: UInt64(client)) }
        #expect(try await RevocationDistributionTests.settled(10, by: coordinator).applied == 10)
        first.cancel()
        _ = await first.result
        await firstConnection.close()

        // Worker B gets twenty new updates with a byte-for-byte replay of each original in
        // between: every partial it makes mixes counted and new updates.
        let secondConnection = try await connector.connect()
        let second = try await run(AggregatorWorker(transport: secondConnection, spec: Self.spec, settings: settings))
        for client in UInt64(10)..<30 {
            try await publish(try signed(client), client: client)
            if client % 2 == 0 { try await publish(originals[Int(client - 10) / 2], client: (client - 10) / 2) }
        }
        let books = try await RevocationDistributionTests.settled(30, by: coordinator)
        let details = try await RevocationDistributionTests.parkedDetails(on: setup)
        #expect(!details.isEmpty && details.allSatisfy { $0.contains("updates already counted") }, "mixed partials were parked: \(details)")
        if shelf {
            #expect(books.applied == 30 && books.rejectedTotal == 0, "every honest update once, every replay a copy: \(books)")
            #expect(details.allSatisfy { $0.contains("asked back from worker") }, "\(details)")
            // Fulfilled requests are dropped on the coordinator's next round (every 500 ms).
            for _ in 0..<300 where await !coordinator.pendingReturns.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await coordinator.pendingReturns.isEmpty)
        } else {
            // The control: the same run without returns loses the new updates it parked.
            #expect(books.applied < 30 && books.applied + books.rejected[.duplicate, default: 0] == 30, "\(books)")
        }
        second.cancel()
        _ = await second.result
        await secondConnection.close()
    }
}
