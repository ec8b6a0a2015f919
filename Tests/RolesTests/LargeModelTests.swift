import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
@testable import Roles
import TestSupport
import Testing
import Wire

/// Issue 18's "models of any size" on RabbitMQ with RabbitMQ 4's default message limit
/// (`max_message_size = 16777216`, set by `scripts/lib/rabbit-node.sh`): a 10-million-
/// parameter synthetic model in fp32 is 40,000,092 bytes per model version, update and
/// partial, each of which travels as 10 chunks of at most 4 MiB.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(5)))
struct LargeModelTests {
    static let spec = try! ModelSpec.synthetic(parameters: 10_000_000)

    @Test func theTestNodeRefusesAMessageOver16MiB() async throws {
        let connection = try await TestBroker.connect()
        let queue = TestBroker.uniqueName("too-large")
        try await connection.declareQueue(QueueDeclaration(name: queue, durable: false, exclusive: false, autoDelete: false))
        // Just under the limit goes through: the refusal below is the size's, nothing else.
        try await connection.publish([UInt8](repeating: 7, count: 16 << 20), exchange: "", routingKey: queue)
        #expect(try await connection.queueStatus(queue).messageCount == 1)
        var refusal: (any Error)?
        do {
            try await connection.publish([UInt8](repeating: 7, count: (16 << 20) + 1), exchange: "", routingKey: queue)
        } catch {
            refusal = error
        }
        #expect(refusal != nil, "a 16 MiB + 1 message went through: the node does not enforce RabbitMQ 4's limit")
        await connection.close()
        let cleanup = try await TestBroker.connect()
        #expect(try await cleanup.queueStatus(queue).messageCount == 1)
        try await cleanup.deleteQueue(queue)
        await cleanup.close()
    }

    @Test func a40MBUpdateIsAppliedAndThe40MBModelReachesEveryClient() async throws {
        let roles = try await ChunkedPipelineTests.ChunkedRoles(on: .rabbitMQ, spec: Self.spec, chunkSize: Chunk.defaultChunkSize)
        try await roles.start()
        let update = try ChunkedPipelineTests.update(0.5, spec: Self.spec)
        #expect(update.message.count == 40_000_092)
        #expect(Chunk.messageCount(length: update.message.count, chunkSize: Chunk.defaultChunkSize) == 10)

        let began = ContinuousClock.now
        let publisher = UpdatePublisher(transport: roles.setup, ledger: PipelineLedger())
        #expect(try await publisher.publish(update))
        let published = ContinuousClock.now
        let accounting = try await ChunkedPipelineTests.settled(1, by: roles.coordinator, seconds: 120)
        let applied = ContinuousClock.now
        #expect(accounting.applied == 1)
        #expect(accounting.rejected.isEmpty)
        // Two clients (fleets) take the new version (a 40 MB model, 10 chunks) at once.
        let (first, second) = (try await roles.connect(), try await roles.connect())
        async let a = ChunkedPipelineTests.model(atLeast: 1, on: first, spec: Self.spec, chunkSize: Chunk.defaultChunkSize)
        async let b = ChunkedPipelineTests.model(atLeast: 1, on: second, spec: Self.spec, chunkSize: Chunk.defaultChunkSize)
        let models = try await [a, b]
        let received = ContinuousClock.now
        for model in models {
            #expect(model.version == 1)
            #expect(model.updatesApplied == 1)
            #expect(model.parameters.count == 10_000_000)
            #expect(model.parameters.allSatisfy { $0 == 1.5 })
        }
        print(
            "large-model: 40,000,092-byte update published (10 chunks, confirmed) in \((published - began).seconds) s; "
                + "applied \((applied - began).seconds) s after the publish began; "
                + "version 1 (40,000,092 bytes) at two subscribers \((received - applied).seconds) s later")
        await roles.stop()
    }
}
