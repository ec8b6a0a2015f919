@testable import Roles
import FedCore
import Foundation
import Learning
import Messaging
import Testing
import Trust
import Wire

/// Model subscribers on the embedded broker: garbage, another key's and unsigned model
/// messages on the fanout are dropped (and acknowledged), and the subscriber goes on to
/// take the next signed version. The subscription here is a plain queue on the fanout
/// (not the one-slot queue roles use), so no message is skipped by drop-head and each
/// one really reaches the subscriber, in order.
@Suite(.timeLimit(.minutes(2)))
struct ModelSubscriberTests {
    let spec = ModelSpec.mlp
    let coordinator = SigningKey()

    /// A connection to a fresh embedded broker with the pipeline's topology.
    static func pipeline() async throws -> any Transport {
        let setup = EmbeddedBroker().connect()
        try await PipelineTopology.declare(on: setup)
        return setup
    }

    func subscribe(_ transport: some Transport) async throws -> (queue: String, consumer: Consumer) {
        let queue = try await transport.declareQueue(QueueDeclaration(name: "", durable: false, exclusive: true, autoDelete: false))
        try await transport.bindQueue(queue.name, exchange: PipelineTopology.modelsExchange, routingKey: "")
        return (queue.name, try await transport.consume(queue: queue.name, prefetch: 1))
    }

    func publish(_ version: ModelVersion, signedBy key: SigningKey?, on transport: some Transport) async throws {
        let model = GlobalModel(version: version, parameters: Network(spec: spec, seed: 1).parameters, updatesApplied: 0)
        let (body, properties) = try PipelineMessage.encodeModel(model, spec: spec, signedBy: key)
        try await transport.publish(body, exchange: PipelineTopology.modelsExchange, routingKey: "", properties: properties)
    }

    func publishForgeries(on transport: some Transport) async throws {
        try await transport.publish(TestUpdates.garbage, exchange: PipelineTopology.modelsExchange, routingKey: "")
        try await publish(50, signedBy: nil, on: transport)
        try await publish(60, signedBy: SigningKey(), on: transport)
    }

    @Test func theFeedDropsForgeriesAndTakesTheNextSignedVersion() async throws {
        let setup = try await Self.pipeline()
        let (queue, models) = try await subscribe(setup)
        try await publish(1, signedBy: coordinator, on: setup)
        try await publishForgeries(on: setup)
        try await publish(2, signedBy: coordinator, on: setup)
        // Signed and far ahead: the coordinator said so.
        try await publish(1_000_000, signedBy: coordinator, on: setup)
        let versions = try await withThrowingTaskGroup(of: [ModelVersion].self) { group in
            group.addTask {
                let seen = VersionBox()
                try await ModelFeed.serve(models, spec: spec, verifier: ModelVerifier(coordinatorKey: coordinator.publicKey)) { feed in
                    var last: ModelVersion? = nil
                    while last != 1_000_000 {
                        let model = try await feed.model(after: last)
                        await seen.set(model.version)
                        last = model.version
                    }
                }
                return await seen.all
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
        // The unsigned 50 and the other key's 60 never became the newest model.
        #expect(versions.allSatisfy { [1, 2, 1_000_000].contains($0) } && versions.last == 1_000_000)
        #expect(try await setup.queueStatus(queue).messageCount == 0, "every message was acknowledged, forgeries included")
        await setup.close()
    }

    @Test func theEvaluatorDropsForgeriesAndGoesOn() async throws {
        let setup = try await Self.pipeline()
        let (queue, models) = try await subscribe(setup)
        let test = ClientTests.data.subset(Array(0..<100))
        let pool = ComputePool<Network>(threads: 1, name: "fedq-eval-tests") { _ in Network(spec: .mlp, seed: 1) }
        defer { pool.shutdown() }
        let evaluator = Evaluator(
            spec: spec, test: test, pool: pool, pacing: EvaluationPacing(minimumInterval: .zero, share: 1), started: .now,
            verifier: ModelVerifier(coordinatorKey: coordinator.publicKey)) { _, _ in }
        let running = Task { try await evaluator.run(models) }
        try await publishForgeries(on: setup)
        try await publish(3, signedBy: coordinator, on: setup)
        let deadline = ContinuousClock.now + .seconds(30)
        while await evaluator.history.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await evaluator.history.map(\.version) == [3])
        #expect(try await setup.queueStatus(queue).messageCount == 0)
        // Still consuming: another signed version is evaluated too.
        try await publish(4, signedBy: coordinator, on: setup)
        while await evaluator.history.count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await evaluator.history.map(\.version) == [3, 4])
        running.cancel()
        await setup.close()
    }

    /// The history a run's final accuracy is read from (its last record) stays in version
    /// order: an older version evaluated after a newer one is scored, not recorded.
    @Test func theHistoryKeepsVersionOrderWhenAnOlderVersionIsEvaluatedLate() async throws {
        let pool = ComputePool<Network>(threads: 1, name: "fedq-eval-tests") { _ in Network(spec: .mlp, seed: 1) }
        defer { pool.shutdown() }
        let evaluator = Evaluator(
            spec: spec, test: ClientTests.data.subset(Array(0..<100)), pool: pool,
            pacing: EvaluationPacing(minimumInterval: .zero, share: 1), started: .now) { _, _ in }
        let parameters = Network(spec: spec, seed: 1).parameters
        let newer = try await evaluator.evaluate(GlobalModel(version: 5, parameters: parameters, updatesApplied: 0))
        let older = try await evaluator.evaluate(GlobalModel(version: 2, parameters: parameters, updatesApplied: 0))
        let again = try await evaluator.evaluate(GlobalModel(version: 5, parameters: parameters, updatesApplied: 0))
        #expect(older.version == 2 && older.accuracy == newer.accuracy)
        #expect(again == newer)
        #expect(await evaluator.history.map(\.version) == [5])
    }

    @Test func withoutAKeyGarbageIsDroppedAndUnsignedModelsTaken() async throws {
        let setup = try await Self.pipeline()
        let (_, models) = try await subscribe(setup)
        try await setup.publish(TestUpdates.garbage, exchange: PipelineTopology.modelsExchange, routingKey: "")
        try await publish(7, signedBy: nil, on: setup)
        let version = try await withThrowingTaskGroup(of: ModelVersion.self) { group in
            group.addTask {
                let box = VersionBox()
                try await ModelFeed.serve(models, spec: spec) { feed in await box.set(try await feed.model(after: nil).version) }
                return await box.value
            }
            defer { group.cancelAll() }
            return try await group.next() ?? 0
        }
        #expect(version == 7)
        await setup.close()
    }
}

private actor VersionBox {
    var all: [ModelVersion] = []
    var value: ModelVersion { all.last ?? 0 }
    func set(_ version: ModelVersion) { all.append(version) }
}
