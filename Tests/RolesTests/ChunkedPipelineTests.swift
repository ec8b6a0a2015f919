import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
@testable import Roles
import TestSupport
import Testing
import Trust
import Wire

/// Updates, partials and model versions longer than the chunk size, through the real roles
/// on the embedded broker and on RabbitMQ: every value known in advance, every refusal
/// counted. The 40 MB case (RabbitMQ's 16 MiB limit) is `LargeModelTests`.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct ChunkedPipelineTests {
    /// 100,000 parameters: a 400,096-byte fp32 update, 7 chunks of 64 KiB (the model and
    /// the partials too).
    static let spec = try! ModelSpec.synthetic(parameters: 100_000)
    static let chunkSize = 64 << 10

    /// A worker, a coordinator (FedAsync with mixing 1: a partial's mean replaces the
    /// model, so every parameter of version 1 is the mean delta plus the start) and a setup
    /// connection, all chunking at 64 KiB.
    final class ChunkedRoles {
        let connector: TransportConnector
        let setup: any Transport
        let worker: AggregatorWorker
        let coordinator: Coordinator
        private var connections: [any Transport]
        private var running: Task<Void, any Error>?

        init(
            on broker: TestTransport, spec: ModelSpec = ChunkedPipelineTests.spec, chunkSize: Int = ChunkedPipelineTests.chunkSize,
            flushUpdates: Int = 1, bufferSize: Int = 1, chunkTimeout: Duration = .seconds(60), issuer: VerifyingKey? = nil,
            signingKey: SigningKey? = nil, coordinatorKey: VerifyingKey? = nil
        ) async throws {
            connector = try broker.connector(name: "fedq-chunk-tests")
            setup = try await connector.connect()
            try await PipelineTopology.declare(on: setup)
            try await PipelineTopology.purge(on: setup)
            let (workerConnection, coordinatorConnection) = (try await connector.connect(), try await connector.connect())
            connections = [setup, workerConnection, coordinatorConnection]
            var settings = WorkerSettings(
                flushUpdates: flushUpdates, staleness: StalenessPolicy(), defences: .off, issuer: issuer, coordinatorKey: coordinatorKey)
            settings.chunkSize = chunkSize
            settings.chunkTimeout = chunkTimeout
            worker = AggregatorWorker(transport: workerConnection, spec: spec, settings: settings)
            coordinator = try Coordinator(
                transport: coordinatorConnection, spec: spec, initialParameters: [Float](repeating: 1, count: spec.parameterCount),
                strategy: AggregationStrategy(.fedBuff(bufferSize: bufferSize)), optimizer: ServerOptimizer(.sgd(learningRate: 1)),
                signingKey: signingKey, chunkSize: chunkSize)
        }

        func connect() async throws -> any Transport {
            let connection = try await connector.connect()
            connections.append(connection)
            return connection
        }

        func start() async throws {
            running = try await InProcessPipeline.start(
                worker: worker, coordinator: coordinator, setup: setup,
                consuming: [PipelineTopology.updateChunksQueue, PipelineTopology.partialsQueue])
        }


        /// Whether the worker and the coordinator still consume (a hostile input must not have ended them).
        func stillConsuming() async throws -> Bool {
            let chunks = try await setup.queueStatus(PipelineTopology.updateChunksQueue)
            let partials = try await setup.queueStatus(PipelineTopology.partialsQueue)
            return chunks.consumerCount == 1 && partials.consumerCount == 1
        }

        func stop() async {
            running?.cancel()
            _ = await running?.result
            for connection in connections { await connection.close() }
            await connector.close()
        }
    }

    static func update(_ value: Float, spec: ModelSpec = spec, client: UInt64 = .random(in: 0...UInt64.max)) throws -> LocalTraining.Outcome {
        let (body, header) = try TestUpdates.update(value, spec: spec, client: client)
        return LocalTraining.Outcome(message: body, header: header, steps: 1, feedback: nil, computeTime: .zero)
    }

    /// The coordinator's books once `count` updates are settled (or after `seconds`).
    static func settled(_ count: Int, by coordinator: Coordinator, seconds: Int = 20) async throws -> AggregationAccounting {
        for _ in 0..<(seconds * 100) where await coordinator.accounting.settled < count {
            try await Task.sleep(for: .milliseconds(10))
        }
        return await coordinator.accounting
    }

    /// The first model of version ≥ `version` a fresh chunk-sized model subscription gets.
    static func model(
        atLeast version: ModelVersion, on transport: any Transport, spec: ModelSpec = spec, chunkSize: Int = chunkSize,
        verifier: ModelVerifier = ModelVerifier(coordinatorKey: nil)
    ) async throws -> GlobalModel {
        let models = try await PipelineTopology.subscribeToModels(
            on: transport, requestCurrent: true, messagesPerVersion: ModelChunks.messagesPerVersion(spec, chunkSize: chunkSize))
        let found = ModelBox()
        try await ModelFeed.serve(models, spec: spec, verifier: verifier) { feed in
            var model = try await feed.model(after: nil)
            while model.version < version { model = try await feed.model(after: model.version) }
            await found.set(model)
        }
        return try #require(await found.model)
    }

    actor ModelBox {
        var model: GlobalModel?
        func set(_ model: GlobalModel) { self.model = model }
    }

    @Test(arguments: TestTransport.allCases)
    func chunkedUpdatesAreAggregatedAndTheChunkedModelReachesASubscriber(on broker: TestTransport) async throws {
        let roles = try await ChunkedRoles(on: broker, flushUpdates: 2, bufferSize: 2)
        try await roles.start()
        let publisher = UpdatePublisher(transport: roles.setup, ledger: PipelineLedger(), chunkSize: Self.chunkSize)
        #expect(try await publisher.publish(try Self.update(0.5)))
        #expect(try await publisher.publish(try Self.update(1.5)))
        let accounting = try await Self.settled(2, by: roles.coordinator)
        #expect(accounting.applied == 2)
        #expect(accounting.rejected.isEmpty)
        // Version 1 = 1 + mean(0.5, 1.5): the updates and the partial went as 7 chunks each.
        let model = try await Self.model(atLeast: 1, on: try await roles.connect())
        #expect(model.version == 1)
        #expect(model.updatesApplied == 2)
        #expect(model.parameters.count == 100_000)
        #expect(model.parameters.allSatisfy { abs($0 - 2) < 1e-6 })
        // Nothing left behind: every chunk was acknowledged, nothing parked.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await roles.setup.queueStatus(PipelineTopology.updateChunksQueue).messageCount == 0)
        #expect(try await roles.setup.queueStatus(PipelineTopology.deadQueue).messageCount == 0)
        await roles.stop()
    }

    /// Several fleets publishing chunked updates at once, each several concurrently: their
    /// sets interleave in the queue (one publisher's never among themselves), and the worker
    /// completes every one within its prefetch.
    @Test(arguments: TestTransport.allCases)
    func concurrentPublishersOfChunkedUpdatesAreAllApplied(on broker: TestTransport) async throws {
        let roles = try await ChunkedRoles(on: broker, flushUpdates: 3, bufferSize: 9)
        try await roles.start()
        var publishers: [UpdatePublisher] = []
        for _ in 0..<3 { publishers.append(UpdatePublisher(transport: try await roles.connect(), ledger: PipelineLedger(), chunkSize: Self.chunkSize)) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for publisher in publishers {
                for value in [0.5, 1.0, 1.5] as [Float] {
                    group.addTask { try await publisher.publish(try Self.update(value)) }
                }
            }
            for try await sent in group { #expect(sent) }
        }
        let accounting = try await Self.settled(9, by: roles.coordinator, seconds: 60)
        #expect(accounting.applied == 9)
        #expect(accounting.rejected.isEmpty)
        let model = try await Self.model(atLeast: 1, on: try await roles.connect())
        #expect(model.updatesApplied == 9)
        #expect(model.parameters.allSatisfy { abs($0 - 2) < 1e-5 })
        await roles.stop()
    }

    /// Hostile and broken chunks around one valid chunked update: each refused, typed and
    /// counted once; the valid update applied; no role stopped.
    @Test(arguments: TestTransport.allCases)
    func hostileChunksAreRefusedCountedAndTheValidUpdateIsApplied(on broker: TestTransport) async throws {
        let roles = try await ChunkedRoles(on: broker, chunkTimeout: .seconds(1))
        try await roles.start()
        let setup = roles.setup
        func send(_ body: [UInt8]) async throws {
            try await setup.publish(
                body, exchange: PipelineTopology.updateChunksExchange, routingKey: PipelineTopology.updateChunksRoutingKey,
                properties: MessageProperties(), mandatory: true)
        }
        let valid = Chunk.split(try Self.update(0.25).message, chunkSize: Self.chunkSize)
        #expect(valid.count == 7)
        let lost = Chunk.split(try Self.update(9).message, chunkSize: Self.chunkSize)
        // A chunk of the valid set with other bytes (its own CRC right): a conflicting duplicate.
        let honest = try Chunk(parsing: valid[1], maxMessageBytes: 1 << 30)
        var altered = Array(honest.fragment)
        altered[10] ^= 0x55
        let forged = Chunk(key: honest.key, index: 1, fragment: altered[...]).encoded()
        // An index past the count, resealed so only the index is wrong.
        var badIndex = valid[2]
        withUnsafeBytes(of: UInt32(7).littleEndian) { badIndex.replaceSubrange(44..<48, with: $0) }
        let crc = CRC32C.checksum(badIndex[..<(badIndex.count - 4)])
        withUnsafeBytes(of: crc.littleEndian) { badIndex.replaceSubrange((badIndex.count - 4)..., with: $0) }

        try await send(valid[0])
        try await send(valid[1])
        try await send(forged)  // refused: duplicate
        try await send(badIndex)  // refused: malformed (chunk-index)
        try await send(valid[0])  // an identical retry: settled with its set, counted nowhere
        for chunk in lost.dropLast() { try await send(chunk) }  // never completes: malformed (chunks-incomplete)
        for chunk in valid[2...] { try await send(chunk) }

        let accounting = try await Self.settled(4, by: roles.coordinator)
        #expect(accounting.applied == 1)
        #expect(accounting.rejected[.duplicate] == 1)
        #expect(accounting.rejected[.malformed] == 2)
        #expect(accounting.settled == 4)
        #expect(try await roles.stillConsuming())
        let model = try await Self.model(atLeast: 1, on: try await roles.connect())
        #expect(model.updatesApplied == 1)
        #expect(model.parameters.allSatisfy { abs($0 - 1.25) < 1e-6 })
        // Parked for an operator with the check that failed: the forgery, the bad index and
        // the 6 chunks of the set given up.
        let reasons = try await TestUpdates.deadLetterReasons(8, on: setup)
        #expect(reasons.filter { $0.description == "duplicate (chunk-duplicate)" }.count == 1)
        #expect(reasons.filter { $0.description == "malformed (chunk-index)" }.count == 1)
        #expect(reasons.filter { $0.description == "malformed (chunks-incomplete)" }.count == 6)
        // A redelivered chunk of the given-up set would be booked under the same id: still 2.
        #expect(await roles.coordinator.accounting.rejected[.malformed] == 2)
        await roles.stop()
    }

    /// Signing covers the whole message: a chunked update signed by its client is
    /// verified after reassembly, and a chunked model signed by the coordinator verifies
    /// at the subscriber.
    @Test func signedChunkedUpdatesAndModelsVerifyAfterReassembly() async throws {
        let issuer = SigningKey()
        let coordinatorKey = SigningKey()
        let roles = try await ChunkedRoles(
            on: .embedded, issuer: issuer.publicKey, signingKey: coordinatorKey, coordinatorKey: coordinatorKey.publicKey)
        try await roles.start()
        let identity = ClientIdentity.issue(clientID: 5, notAfter: UInt64(Date().timeIntervalSince1970) + 3600, by: issuer)
        let publisher = UpdatePublisher(
            transport: roles.setup, ledger: PipelineLedger(), identities: [5: identity], chunkSize: Self.chunkSize)
        #expect(try await publisher.publish(try Self.update(0.75, client: 5)))
        let accounting = try await Self.settled(1, by: roles.coordinator)
        #expect(accounting.applied == 1)
        #expect(accounting.rejected.isEmpty)
        let model = try await Self.model(
            atLeast: 1, on: try await roles.connect(), verifier: ModelVerifier(coordinatorKey: coordinatorKey.publicKey))
        #expect(model.parameters.allSatisfy { abs($0 - 1.75) < 1e-6 })
        // An unsigned chunked update is refused as unauthenticated, after reassembly.
        let unsigned = UpdatePublisher(transport: roles.setup, ledger: PipelineLedger(), chunkSize: Self.chunkSize)
        #expect(try await unsigned.publish(try Self.update(0.75, client: 5)))
        let after = try await Self.settled(2, by: roles.coordinator)
        #expect(after.rejected[.unauthenticated] == 1)
        #expect(after.applied == 1)
        await roles.stop()
    }
}
