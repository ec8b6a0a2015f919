import Aggregation
import Foundation
import Learning
import Messaging
@testable import Roles
import TestSupport
import Testing
import Wire

/// The aggregator worker and coordinator with hand-made updates, so every figure is
/// known in advance; each test body runs on the embedded broker and on RabbitMQ.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(2)))
struct RoleTests {
    let spec = ModelSpec.mlp

    func update(_ value: Float, base: ModelVersion = 0, spec: ModelSpec = .mlp) throws -> (body: [UInt8], header: MessageHeader) {
        try TestUpdates.update(value, base: base, spec: spec)
    }

    func publish(_ message: (body: [UInt8], header: MessageHeader), on transport: some Transport) async throws {
        try await TestUpdates.publish(message, on: transport)
    }

    @Test(arguments: TestTransport.allCases)
    func fedBuffAppliesTheMeanOfItsBufferAndPublishesAVersion(on broker: TestTransport) async throws {
        // Defences off: with them, the first 5 updates a worker sees wait together for their
        // norm bound, and this test counts the partials that flushing by 2 makes. The flush
        // timer is long, so only the count flushes: a busy machine publishing slower than
        // the default 20 ms timer would otherwise make 3 or 4 partials of these 4 updates.
        let roles = try await RunningRoles(
            on: broker, strategy: .fedBuff(bufferSize: 4), flushUpdates: 2, flushInterval: .seconds(60),
            initialValue: 1, defences: .off)
        let (setup, worker, coordinator) = (roles.setup, roles.worker, roles.coordinator)
        let models = try await PipelineTopology.subscribeToModels(on: setup)
        try await roles.start()
        for value in [0.5, 1.0, 1.5, 2.0] as [Float] { try await publish(try update(value), on: setup) }
        var iterator = models.makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        let model = try PipelineMessage.decodeModel(delivery, spec: spec)
        // Mean delta (0.5 + 1 + 1.5 + 2) / 4 = 1.25 added to parameters of 1.
        #expect(model.version == 1)
        #expect(model.updatesApplied == 4)
        #expect(model.parameters.allSatisfy { abs($0 - 2.25) < 1e-5 })
        #expect(await coordinator.accounting.applied == 4)
        // The worker counts a partial once its publish returns with the confirm, which can
        // come after the coordinator already applied it: wait for the count to settle.
        for _ in 0..<200 where await worker.partialsPublished < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await worker.partialsPublished == 2)
        await roles.stop()
    }

    @Test(arguments: TestTransport.allCases)
    func poisonMessagesEndInTheDeadLetterQueueWithTheirReason(on broker: TestTransport) async throws {
        let roles = try await RunningRoles(on: broker, staleness: StalenessPolicy())
        let (setup, worker, coordinator) = (roles.setup, roles.worker, roles.coordinator)
        try await roles.start()

        try await TestUpdates.publishGarbage(on: setup)
        try await publish(try TestUpdates.nanUpdate(), on: setup)
        try await publish(try update(0.1, spec: .cnn), on: setup)
        try await publish(try update(0.1), on: setup)

        // One name per reason (as in updates.csv and summary.json), the failed check beside it.
        let reasons = try await TestUpdates.deadLetterReasons(3, on: setup)
        #expect(Set(reasons.map(\.description)) == [
            "malformed (bad-magic)", "non-finite (non-finite:values)", "wrong-model (spec-hash-mismatch)",
        ])
        // The refused ones reached the coordinator's books as settled entries, the valid one as an update.
        let accounting = try await settled(4, by: coordinator)
        #expect(accounting.applied == 1)
        // Counted once the confirm is back, which may come after the coordinator settled them.
        for _ in 0..<200 where await worker.partialsPublished < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await worker.partialsPublished >= 2)
        #expect(accounting.rejected[.malformed] == 1)
        #expect(accounting.rejected[.nonFinite] == 1)
        #expect(accounting.rejected[.wrongModel] == 1)
        await roles.stop()
    }

    @Test(arguments: TestTransport.allCases)
    func staleUpdatesBeyondTheBoundAreDroppedAndCounted(on broker: TestTransport) async throws {
        let roles = try await RunningRoles(on: broker, staleness: StalenessPolicy(maxStaleness: 2))
        let (setup, coordinator) = (roles.setup, roles.coordinator)
        try await roles.start()
        // The worker learns that version 10 exists from the coordinator's notice (only a
        // notice moves it: an update's claim never does, issue 16).
        let (_, model) = try PipelineMessage.encodeModel(
            GlobalModel(version: 10, parameters: [Float](repeating: 0, count: spec.parameterCount), updatesApplied: 0), spec: spec)
        try await setup.publish([], exchange: PipelineTopology.versionsExchange, routingKey: "", properties: model)
        // Wait for the notice itself, not a fixed time: under load it can take seconds, and an
        // update that arrives first is measured against version 0 and applied.
        for _ in 0..<1000 where await roles.worker.knownVersion < 10 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(await roles.worker.knownVersion == 10)
        try await publish(try update(0.1, base: 10), on: setup)
        try await publish(try update(0.1, base: 9), on: setup)
        try await publish(try update(0.1, base: 3), on: setup)
        let accounting = try await settled(3, by: coordinator)
        try #require(accounting.droppedStale == 1, "otherwise no dead letter comes to wait for")
        #expect(accounting.applied == 2)
        // Parked for an operator too, with the reason.
        #expect(try await TestUpdates.deadLetterReasons(1, on: setup).map(\.description) == ["stale (stale: 7 versions behind (max 2))"])
        await roles.stop()
    }

    /// Issue 18: the updates path split over 3 queues. Each client's updates go by slot to
    /// the shard of its id, one worker consumes all three and every update is applied once;
    /// declaring one shard again takes the slots back, so no update is ever routed twice.
    @Test(arguments: TestTransport.allCases)
    func aWorkerOnThreeShardsAppliesEveryClientsUpdateOnce(on broker: TestTransport) async throws {
        let shards = try UpdateShards(3)
        let roles = try await RunningRoles(on: broker, strategy: .fedBuff(bufferSize: 6), flushUpdates: 2, defences: .off, shards: shards)
        let (setup, coordinator) = (roles.setup, roles.coordinator)
        let models = try await PipelineTopology.subscribeToModels(on: setup)
        for client in 0..<6 as Range<UInt64> {
            try await TestUpdates.publish(
                try TestUpdates.update(Float(client + 1) / 10, client: client), on: setup, routingKey: UpdateShards.routingKey(client: client))
        }
        // Before any worker consumes: shard k holds the updates of clients k and k + 3.
        #expect(try await Self.readyCounts(shards.queues, on: setup, total: 6) == [2, 2, 2])
        try await roles.start()
        var iterator = models.makeAsyncIterator()
        let model = try PipelineMessage.decodeModel(try #require(try await iterator.next()), spec: spec)
        #expect(model.version == 1 && model.updatesApplied == 6)
        // The mean of 0.1 … 0.6 added to parameters of 0.
        #expect(model.parameters.allSatisfy { abs($0 - 0.35) < 1e-5 })
        #expect(await coordinator.accounting.applied == 6)
        await roles.halt()

        // Back to one queue: every slot is shard 0's again, and only shard 0's.
        try await PipelineTopology.declare(on: setup)
        try await PipelineTopology.purge(on: setup, shards: shards)
        try await TestUpdates.publish(try TestUpdates.update(0.1, client: 1), on: setup, routingKey: UpdateShards.routingKey(client: 1))
        #expect(try await Self.readyCounts(shards.queues, on: setup, total: 1) == [1, 0, 0])
        try await PipelineTopology.purge(on: setup, shards: shards)
        await roles.stop()
    }

    /// The ready counts of `queues` once they add up to `total` (a quorum queue counts a
    /// confirmed message a moment later), or after 5 s.
    static func readyCounts(_ queues: [String], on transport: some Transport, total: Int) async throws -> [Int] {
        var counts: [Int] = []
        for _ in 0..<250 {
            counts = []
            for queue in queues { counts.append(try await transport.queueStatus(queue).messageCount) }
            if counts.reduce(0, +) >= total { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return counts
    }

    /// A worker and a coordinator on connections of their own, over the pipeline's
    /// topology emptied of what an earlier test left (RabbitMQ's queues outlive a test).
    final class RunningRoles {
        let connector: TransportConnector
        let setup: any Transport
        let worker: AggregatorWorker
        let coordinator: Coordinator
        private let connections: [any Transport]
        private var running: Task<Void, any Error>?

        /// FedAsync (every partial applied at once) unless `strategy` says otherwise.
        init(
            on broker: TestTransport, strategy: AggregationStrategy.Kind = .fedAsync(mixing: 0.5),
            staleness: StalenessPolicy = StalenessPolicy(), flushUpdates: Int = 1,
            flushInterval: Duration = .milliseconds(20), initialValue: Float = 0, defences: UpdateDefences = .default, shards: UpdateShards = .single
        ) async throws {
            let spec = ModelSpec.mlp
            connector = try broker.connector(name: "fedq-role-tests")
            setup = try await connector.connect()
            try await PipelineTopology.declare(on: setup, shards: shards)
            try await PipelineTopology.purge(on: setup, shards: shards)
            let (workerConnection, coordinatorConnection) = (try await connector.connect(), try await connector.connect())
            connections = [setup, workerConnection, coordinatorConnection]
            var settings = WorkerSettings(
                flushUpdates: flushUpdates, flushInterval: flushInterval, staleness: staleness, defences: defences)
            settings.shards = shards
            worker = AggregatorWorker(transport: workerConnection, spec: spec, settings: settings)
            coordinator = try Coordinator(
                transport: coordinatorConnection, spec: spec,
                initialParameters: [Float](repeating: initialValue, count: spec.parameterCount),
                strategy: AggregationStrategy(strategy), optimizer: ServerOptimizer(.sgd(learningRate: 1)))
        }

        func start() async throws {
            running = try await InProcessPipeline.start(
                worker: worker, coordinator: coordinator, setup: setup,
                consuming: [PipelineTopology.updatesQueue, PipelineTopology.partialsQueue])
        }


        /// Stops the worker and the coordinator; the connections stay open.
        func halt() async {
            running?.cancel()
            _ = await running?.result
        }

        /// Stops the roles and closes every connection, so the next test finds no consumer.
        func stop() async {
            await halt()
            for connection in connections { await connection.close() }
            await connector.close()
        }
    }

    /// The coordinator's books once `count` updates are settled (or after 5 s).
    func settled(_ count: Int, by coordinator: Coordinator) async throws -> AggregationAccounting {
        for _ in 0..<500 where await coordinator.accounting.settled < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        return await coordinator.accounting
    }
}
