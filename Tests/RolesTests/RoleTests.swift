@testable import Roles
import Messaging
import Report
import Simulation
import Aggregation
import Foundation
import Learning
import Testing
import Wire

/// The aggregator worker and coordinator against the embedded broker, with
/// hand-made updates so every figure is known in advance.
@Suite(.timeLimit(.minutes(1)))
struct RoleTests {
    let spec = ModelSpec.mlp

    func update(_ value: Float, base: ModelVersion = 0, spec: ModelSpec = .mlp) throws -> (body: [UInt8], header: MessageHeader) {
        try TestUpdates.update(value, base: base, spec: spec)
    }

    func publish(_ message: (body: [UInt8], header: MessageHeader), on transport: some Transport) async throws {
        try await TestUpdates.publish(message, on: transport)
    }

    @Test func fedBuffAppliesTheMeanOfItsBufferAndPublishesAVersion() async throws {
        let broker = EmbeddedBroker()
        let setup = broker.connect()
        try await PipelineTopology.declare(on: setup)
        let worker = AggregatorWorker(
            transport: broker.connect(), spec: spec,
            settings: WorkerSettings(flushUpdates: 2, staleness: StalenessPolicy()))
        let coordinator = try Coordinator(
            transport: broker.connect(), spec: spec, initialParameters: [Float](repeating: 1, count: spec.parameterCount),
            strategy: AggregationStrategy(.fedBuff(bufferSize: 4)), optimizer: ServerOptimizer(.sgd(learningRate: 1)))
        let models = try await PipelineTopology.subscribeToModels(on: setup)
        let roles = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                group.addTask { try await coordinator.run() }
                try await group.next()
            }
        }
        defer { roles.cancel() }
        for value in [0.5, 1.0, 1.5, 2.0] as [Float] { try await publish(try update(value), on: setup) }
        var iterator = models.makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        let model = try PipelineMessage.decodeModel(delivery, spec: spec)
        // Mean delta (0.5 + 1 + 1.5 + 2) / 4 = 1.25 added to parameters of 1.
        #expect(model.version == 1)
        #expect(model.updatesApplied == 4)
        #expect(model.parameters.allSatisfy { abs($0 - 2.25) < 1e-5 })
        #expect(await coordinator.accounting.applied == 4)
        #expect(await worker.partialsPublished == 2)
    }

    @Test func poisonMessagesEndInTheDeadLetterQueueWithTheirReason() async throws {
        let broker = EmbeddedBroker()
        let setup = broker.connect()
        try await PipelineTopology.declare(on: setup)
        let (worker, coordinator, running) = try startRoles(on: broker, staleness: StalenessPolicy())
        defer { running.cancel() }

        try await TestUpdates.publishGarbage(on: setup)
        try await publish(try TestUpdates.nanUpdate(), on: setup)
        try await publish(try update(0.1, spec: .cnn), on: setup)
        try await publish(try update(0.1), on: setup)

        let reasons = try await TestUpdates.deadLetterReasons(3, on: setup)
        #expect(reasons.count == 3)
        #expect(reasons.contains("bad-magic"))
        #expect(reasons.contains("non-finite:values"))
        #expect(reasons.contains("spec-hash-mismatch"))
        // The refused ones reached the coordinator's books as settled entries, the valid one as an update.
        let accounting = try await settled(4, by: coordinator)
        #expect(accounting.applied == 1)
        #expect(await worker.partialsPublished >= 2)
        #expect(accounting.rejected[.malformed] == 1)
        #expect(accounting.rejected[.nonFinite] == 1)
        #expect(accounting.rejected[.wrongModel] == 1)
    }

    @Test func staleUpdatesBeyondTheBoundAreDroppedAndCounted() async throws {
        let broker = EmbeddedBroker()
        let setup = broker.connect()
        try await PipelineTopology.declare(on: setup)
        let (_, coordinator, running) = try startRoles(on: broker, staleness: StalenessPolicy(maxStaleness: 2))
        defer { running.cancel() }
        // The worker learns that version 10 exists from an update trained on it.
        try await publish(try update(0.1, base: 10), on: setup)
        try await publish(try update(0.1, base: 9), on: setup)
        try await publish(try update(0.1, base: 3), on: setup)
        let accounting = try await settled(3, by: coordinator)
        #expect(accounting.droppedStale == 1)
        #expect(accounting.applied == 2)
        // Parked for an operator too, with the reason.
        #expect(try await TestUpdates.deadLetterReasons(1, on: setup) == ["stale: 7 versions behind (max 2)"])
    }

    /// A worker and a FedAsync coordinator (every partial applied at once) on their own connections.
    func startRoles(
        on broker: EmbeddedBroker, staleness: StalenessPolicy
    ) throws -> (AggregatorWorker, Coordinator, Task<Void, any Error>) {
        let worker = AggregatorWorker(
            transport: broker.connect(), spec: spec, settings: WorkerSettings(flushUpdates: 1, staleness: staleness))
        let coordinator = try Coordinator(
            transport: broker.connect(), spec: spec, initialParameters: [Float](repeating: 0, count: spec.parameterCount),
            strategy: AggregationStrategy(.fedAsync(mixing: 0.5)), optimizer: ServerOptimizer(.sgd(learningRate: 1)))
        let running = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                group.addTask { try await coordinator.run() }
                try await group.next()
            }
        }
        return (worker, coordinator, running)
    }

    /// The coordinator's books once `count` updates are settled (or after 5 s).
    func settled(_ count: Int, by coordinator: Coordinator) async throws -> AggregationAccounting {
        for _ in 0..<500 where await coordinator.accounting.settled < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        return await coordinator.accounting
    }
}
