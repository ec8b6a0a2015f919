import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
@testable import Roles
import TestSupport
import Testing
import Trust

/// The coordinator's revocation list reaches the workers on its version notices, signed:
/// a worker with no list of its own refuses the updates of a client the operator revoked
/// at the coordinator, a worker started after the last version learns the list from the
/// notice the coordinator repeats before it consumes a single update, and a change to the
/// list takes effect before the next version. On both brokers.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct RevocationDistributionTests {
    static let spec = try! ModelSpec.synthetic(parameters: 8)

    /// The coordinator's books once `count` updates are settled (or after 20 s).
    static func settled(_ count: Int, by coordinator: Coordinator) async throws -> AggregationAccounting {
        for _ in 0..<2000 where await coordinator.accounting.settled < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        return await coordinator.accounting
    }

    /// The `x-fedq-detail` of every message parked in `fedq.dead`, taken off the queue.
    static func parkedDetails(on setup: any Transport) async throws -> [String] {
        var details: [String] = []
        let parked = try await setup.queueStatus(PipelineTopology.deadQueue).messageCount
        guard parked > 0 else { return [] }
        for try await message in try await setup.consume(queue: PipelineTopology.deadQueue, prefetch: 32) {
            details.append(message.properties.headers[MessageProperties.HeaderName.rejectDetail]?.stringValue ?? "")
            try await message.ack()
            if details.count == parked { break }
        }
        return details
    }

    /// The pipeline's topology declared and emptied on `broker`, and a connection for each of
    /// setup, a worker and a coordinator.
    static func pipeline(on broker: TestTransport) async throws
        -> (connector: TransportConnector, setup: any Transport, worker: any Transport, coordinator: any Transport)
    {
        let connector = try broker.connector(name: "fedq-revocation-tests")
        let setup = try await connector.connect()
        try await PipelineTopology.declare(on: setup)
        try await PipelineTopology.purge(on: setup)
        return (connector, setup, try await connector.connect(), try await connector.connect())
    }

    /// Waits until the worker's list holds the coordinator's list newer than `serial`.
    static func adopted(after serial: UInt64?, by held: Revocations, seconds: Int = 15) async throws -> (list: RevocationList, serial: UInt64)? {
        for _ in 0..<(seconds * 100) {
            if let distributed = held.distributed, distributed.serial > serial ?? 0 { return distributed }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    @Test(arguments: TestTransport.allCases)
    func workersRefuseWhomTheCoordinatorsListNamesWithoutAFileOfTheirOwn(on broker: TestTransport) async throws {
        let (issuer, coordinatorKey) = (SigningKey(), SigningKey())
        let (connector, setup, workerConnection, coordinatorConnection) = try await Self.pipeline(on: broker)
        var settings = WorkerSettings(
            flushUpdates: 1, staleness: StalenessPolicy(), defences: .off, issuer: issuer.publicKey, coordinatorKey: coordinatorKey.publicKey)
        let workersList = Revocations()
        settings.revocations = workersList
        let worker = AggregatorWorker(transport: workerConnection, spec: Self.spec, settings: settings)
        // The operator revoked client 2 at the coordinator, and only there.
        let operatorsList = Revocations(RevocationList(clients: [2]))
        let coordinator = try Coordinator(
            transport: coordinatorConnection, spec: Self.spec, initialParameters: [Float](repeating: 0, count: 8),
            strategy: AggregationStrategy(.fedBuff(bufferSize: 1)), optimizer: ServerOptimizer(.sgd(learningRate: 1)),
            signingKey: coordinatorKey, revocations: operatorsList)
        // Version 0's notice goes out before the worker subscribes: it learns the list from
        // the notice the coordinator repeats (every `Coordinator.noticeRepeat`), not from
        // this one, and consumes no update before it has it.
        try await coordinator.announce()
        let running = try await InProcessPipeline.start(
            worker: worker, coordinator: coordinator, setup: setup, consuming: [PipelineTopology.updatesQueue, PipelineTopology.partialsQueue])
        #expect(try await setup.queueStatus(PipelineTopology.updatesQueue).consumerCount == 1)
        #expect(workersList.distributed != nil, "the worker consumed updates before it had the coordinator's list")
        let first = try #require(try await Self.adopted(after: nil, by: workersList), "the worker never got the coordinator's list")
        #expect(first.list == RevocationList(clients: [2]))
        #expect(workersList.own.isEmpty)

        let expiry = UInt64(Date().timeIntervalSince1970) + 3600
        let identities = [1, 2].reduce(into: [UInt64: ClientIdentity]()) { $0[$1] = .issue(clientID: $1, notAfter: expiry, by: issuer) }
        let publisher = UpdatePublisher(transport: setup, ledger: PipelineLedger(), identities: identities)
        func publish(from client: UInt64, base: ModelVersion) async throws {
            let (body, header) = try TestUpdates.update(0.5, base: base, spec: Self.spec, client: client)
            let outcome = LocalTraining.Outcome(message: body, header: header, steps: 1, feedback: nil, computeTime: .zero)
            #expect(try await publisher.publish(outcome))
        }
        try await publish(from: 1, base: 0)
        try await publish(from: 2, base: 0)
        let before = try await Self.settled(2, by: coordinator)
        #expect(before.applied == 1 && before.rejected == [.unauthenticated: 1], "\(before)")

        // Client 2 is readmitted and client 1 revoked: the worker has it at once, not at the next version.
        let version = await coordinator.model.version
        operatorsList.replace(with: RevocationList(clients: [1]))
        let second = try #require(try await Self.adopted(after: first.serial, by: workersList, seconds: 3), "the changed list never came")
        #expect(second.list == RevocationList(clients: [1]))
        #expect(await coordinator.model.version == version)
        try await publish(from: 1, base: version)
        try await publish(from: 2, base: version)
        let after = try await Self.settled(4, by: coordinator)
        #expect(after.applied == 2 && after.rejected == [.unauthenticated: 2], "\(after)")
        // Each refusal is parked with the credential's revocation as its detail.
        var details: [String] = []
        for try await parked in try await setup.consume(queue: PipelineTopology.deadQueue, prefetch: 2) {
            details.append(parked.properties.headers[MessageProperties.HeaderName.rejectDetail]?.stringValue ?? "")
            try await parked.ack()
            if details.count == 2 { break }
        }
        #expect(details.allSatisfy { $0.hasPrefix("credential-revoked") }, "\(details)")

        running.cancel()
        _ = await running.result
        for connection in [setup, workerConnection, coordinatorConnection] { await connection.close() }
        await connector.close()
    }

    /// With no coordinator to hear from, a worker waits `firstNoticeWait` and then consumes
    /// all the same: it must not depend on the coordinator to start.
    @Test(arguments: TestTransport.allCases)
    func aWorkerWithNoCoordinatorToHearFromStartsAfterItsWait(on broker: TestTransport) async throws {
        let connector = try broker.connector(name: "fedq-revocation-tests")
        let setup = try await connector.connect()
        try await PipelineTopology.declare(on: setup)
        try await PipelineTopology.purge(on: setup)
        let connection = try await connector.connect()
        var settings = WorkerSettings(
            flushUpdates: 1, staleness: StalenessPolicy(), defences: .off, issuer: SigningKey().publicKey,
            coordinatorKey: SigningKey().publicKey)
        settings.revocations = Revocations()
        settings.firstNoticeWait = .milliseconds(400)
        let worker = AggregatorWorker(transport: connection, spec: Self.spec, settings: settings)
        let started = ContinuousClock.now
        let running = Task { try await worker.run() }
        var consumers = 0
        for _ in 0..<500 {
            consumers = try await setup.queueStatus(PipelineTopology.updatesQueue).consumerCount
            if consumers > 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(consumers == 1)
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        #expect(settings.revocations?.distributed == nil)
        running.cancel()
        _ = await running.result
        for transport in [setup, connection] { await transport.close() }
        await connector.close()
    }

    /// `--notice-wait forever`: a worker consumes no update before the coordinator's first
    /// notice, however long that takes, and starts as soon as it comes, with the list.
    @Test(arguments: TestTransport.allCases)
    func aWorkerToldToWaitForeverConsumesOnlyOnceTheCoordinatorsListCame(on broker: TestTransport) async throws {
        let coordinatorKey = SigningKey()
        let (connector, setup, workerConnection, coordinatorConnection) = try await Self.pipeline(on: broker)
        var settings = WorkerSettings(
            flushUpdates: 1, staleness: StalenessPolicy(), defences: .off, issuer: SigningKey().publicKey,
            coordinatorKey: coordinatorKey.publicKey)
        let held = Revocations()
        settings.revocations = held
        settings.firstNoticeWait = nil
        let worker = AggregatorWorker(transport: workerConnection, spec: Self.spec, settings: settings)
        let running = Task { try await worker.run() }
        // More than twice the default wait, and no coordinator: still not consuming.
        try await Task.sleep(for: .seconds(7))
        #expect(try await setup.queueStatus(PipelineTopology.updatesQueue).consumerCount == 0)
        let coordinator = try Coordinator(
            transport: coordinatorConnection, spec: Self.spec, initialParameters: [Float](repeating: 0, count: 8),
            strategy: AggregationStrategy(.fedBuff(bufferSize: 1)), optimizer: ServerOptimizer(.sgd(learningRate: 1)),
            signingKey: coordinatorKey, revocations: Revocations(RevocationList(clients: [7])))
        try await coordinator.announce()
        var consumers = 0
        for _ in 0..<1_000 where consumers == 0 {
            try await Task.sleep(for: .milliseconds(10))
            consumers = try await setup.queueStatus(PipelineTopology.updatesQueue).consumerCount
        }
        #expect(consumers == 1)
        #expect(held.distributed?.list == RevocationList(clients: [7]), "it consumed before it had the list")
        running.cancel()
        _ = await running.result
        for transport in [setup, workerConnection, coordinatorConnection] { await transport.close() }
        await connector.close()
    }
}
