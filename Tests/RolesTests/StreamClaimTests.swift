import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
import TestSupport
import Testing
import Trust
import Wire

@testable import Roles

/// A shard claim's two messages (docs/wire-format.md) and the coordinator's part in a
/// claim: it records the claim behind the predecessor's partials, checkpoints it, and
/// answers in the claimant's claim queue where its reader starts.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(2)))
struct StreamClaimTests {
    @Test func anAnnouncementAndAnAnswerReadBackAsTheyWereWritten() throws {
        let announcement = StreamClaimMessage.Announcement(shard: 63, claim: 0x00AB_CDEF_0123_4567)
        #expect(announcement.properties.headers[StreamClaimMessage.HeaderName.claim]?.stringValue == "00abcdef01234567")
        #expect(try StreamClaimMessage.Announcement.read(announcement.properties)?.get() == announcement)
        #expect(StreamClaimMessage.Announcement.read(MessageProperties()) == nil, "a partial's properties are no claim")

        let key = SigningKey()
        for answer in [
            StreamClaimMessage.Answer(shard: 3, claim: .max, from: .first),
            StreamClaimMessage.Answer(shard: 0, claim: 1, from: .offset(1 << 40)),
        ] {
            var properties = MessageProperties()
            answer.attach(to: &properties, signedBy: key)
            #expect(try StreamClaimMessage.Answer.read(properties, coordinatorKey: key.publicKey)?.get() == answer)
            #expect(try StreamClaimMessage.Answer.read(properties, coordinatorKey: nil)?.get() == answer)
            // Another key's answer, or the same answer moved to another offset, is not the coordinator's.
            let forger = SigningKey()
            #expect(rejection(StreamClaimMessage.Answer.read(properties, coordinatorKey: forger.publicKey)) == .unauthenticated)
            var moved = properties
            moved.headers[StreamClaimMessage.HeaderName.from] = .string("7")
            #expect(rejection(StreamClaimMessage.Answer.read(moved, coordinatorKey: key.publicKey)) == .unauthenticated)
        }
        var unsigned = MessageProperties()
        StreamClaimMessage.Answer(shard: 1, claim: 2, from: .first).attach(to: &unsigned, signedBy: nil)
        #expect(rejection(StreamClaimMessage.Answer.read(unsigned, coordinatorKey: key.publicKey)) == .unauthenticated)
    }

    /// Rebalancing's two messages: a worker's want and the coordinator's release.
    @Test func aWantAndAReleaseReadBackAsTheyWereWritten() throws {
        let want = StreamClaimMessage.Want(worker: 0x0102_0304_0506_0708)
        #expect(want.properties.headers[StreamClaimMessage.HeaderName.worker]?.stringValue == "0102030405060708")
        #expect(try StreamClaimMessage.Want.read(want.properties)?.get() == want)
        #expect(StreamClaimMessage.Announcement.read(want.properties) == nil, "a want is no claim")
        let announcement = StreamClaimMessage.Announcement(shard: 2, claim: 9, worker: 0x0102_0304_0506_0708)
        #expect(StreamClaimMessage.Want.read(announcement.properties) == nil, "a claim naming its worker is no want")
        #expect(try StreamClaimMessage.Announcement.read(announcement.properties)?.get() == announcement)
        var broken = MessageProperties()
        broken.headers = [StreamClaimMessage.HeaderName.worker: .string("0000000000000000")]
        #expect(rejection(StreamClaimMessage.Want.read(broken)) == .malformed)
        var brokenClaim = announcement.properties
        brokenClaim.headers[StreamClaimMessage.HeaderName.worker] = .int(5)
        #expect(rejection(StreamClaimMessage.Announcement.read(brokenClaim)) == .malformed)

        let key = SigningKey()
        let release = StreamClaimMessage.Release(shard: 5, claim: 0xFEED)
        var properties = MessageProperties()
        release.attach(to: &properties, signedBy: key)
        #expect(try StreamClaimMessage.Reply.read(properties, coordinatorKey: key.publicKey)?.get() == .release(release))
        #expect(rejection(StreamClaimMessage.Reply.read(properties, coordinatorKey: SigningKey().publicKey)) == .unauthenticated)
        // An answer's signature over the same shard and claim is no release's: the domains differ.
        var answer = MessageProperties()
        StreamClaimMessage.Answer(shard: 5, claim: 0xFEED, from: .first).attach(to: &answer, signedBy: key)
        var forged = properties
        forged.headers[StreamClaimMessage.HeaderName.signature] = answer.headers[StreamClaimMessage.HeaderName.signature]
        #expect(rejection(StreamClaimMessage.Reply.read(forged, coordinatorKey: key.publicKey)) == .unauthenticated)
        #expect(try StreamClaimMessage.Reply.read(answer, coordinatorKey: key.publicKey)?.get()
                == .answer(.init(shard: 5, claim: 0xFEED, from: .first)))
        var unsigned = MessageProperties()
        release.attach(to: &unsigned, signedBy: nil)
        #expect(rejection(StreamClaimMessage.Reply.read(unsigned, coordinatorKey: key.publicKey)) == .unauthenticated)
        #expect(try StreamClaimMessage.Reply.read(unsigned, coordinatorKey: nil)?.get() == .release(release))
    }

    @Test(arguments: [
        [StreamClaimMessage.HeaderName.shard: HeaderValue.int(64), StreamClaimMessage.HeaderName.claim: .string("0000000000000001")],
        [StreamClaimMessage.HeaderName.shard: .int(-1), StreamClaimMessage.HeaderName.claim: .string("0000000000000001")],
        [StreamClaimMessage.HeaderName.shard: .int(0), StreamClaimMessage.HeaderName.claim: .string("0000000000000000")],
        [StreamClaimMessage.HeaderName.shard: .int(0), StreamClaimMessage.HeaderName.claim: .string("1")],
        [StreamClaimMessage.HeaderName.shard: .string("0"), StreamClaimMessage.HeaderName.claim: .string("0000000000000001")],
        [StreamClaimMessage.HeaderName.claim: .string("0000000000000001")],
    ])
    func aBrokenAnnouncementIsMalformed(headers: [String: HeaderValue]) {
        var properties = MessageProperties()
        properties.headers = headers
        #expect(rejection(StreamClaimMessage.Announcement.read(properties)) == .malformed)
    }

    func rejection<T>(_ result: Result<T, ModelVerifier.Rejection>?) -> RejectionReason? {
        guard case .failure(let rejection) = result else { return nil }
        return rejection.reason
    }

    let spec = try! ModelSpec.synthetic(parameters: 16)

    /// A partial of `count` updates read off offsets `first…` of shard 0 under `claim`.
    func streamPartial(claim: UInt64, first: UInt64, count: Int) throws -> [UInt8] {
        let header = MessageHeader(kind: .partialAggregate, specHash: spec.hash, modelVersion: 0, parameterCount: spec.parameterCount, codec: .fp32)
        let summary = PartialAggregateSummary(
            weightTotal: Double(count), massTotal: Double(count), entries: (0..<count).map { _ in .init(updateID: .random(), baseVersion: 0) },
            streamRange: .init(shard: 0, claim: claim, first: first, last: first + UInt64(count) - 1))
        return try Envelope.encode([Float](repeating: Float(count), count: spec.parameterCount), header: header, partial: summary)
    }

    /// The first message in `queue` on `transport`, within two seconds.
    func firstMessage(in queue: String, on transport: any Transport) async throws -> Delivery {
        let consumer = try await transport.consume(queue: queue, prefetch: 4)
        return try await withThrowingTaskGroup(of: Delivery?.self) { group in
            group.addTask {
                for try await delivery in consumer {
                    try await delivery.ack()
                    return delivery
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: .seconds(2))
                return nil
            }
            defer { group.cancelAll() }
            return try #require(try await group.next() ?? nil, "nothing arrived in \(queue)")
        }
    }

    /// Two workers take shard 0 in turn; the second starts right after what the first got
    /// in, and the first's partial sent after the second claim is dropped. The restarted
    /// coordinator keeps the claim and the offsets.
    @Test(arguments: TestTransport.allCases)
    func theCoordinatorAnswersEachClaimWithWhereItsReaderStarts(on broker: TestTransport) async throws {
        let connector = try broker.connector(name: "fedq-claim-tests")
        let setup = try await connector.connect()
        try await PipelineTopology.declare(on: setup)
        try await PipelineTopology.purge(on: setup, shards: .single)
        let dead = try await setup.queueStatus(PipelineTopology.deadQueue).messageCount
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-claims-\(UUID().uuidString.prefix(8))").path
        let key = SigningKey()
        func coordinator() async throws -> Coordinator {
            try Coordinator(
                transport: try await connector.connect(), spec: spec, initialParameters: [Float](repeating: 0, count: spec.parameterCount),
                strategy: AggregationStrategy(.fedAsync(mixing: 1)), optimizer: ServerOptimizer(.sgd(learningRate: 1)),
                store: try CoordinatorStore(directory: directory), signingKey: key)
        }
        func publish(_ body: [UInt8], properties: MessageProperties = MessageProperties(), on transport: any Transport) async throws {
            try await transport.publish(
                body, exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey, properties: properties,
                mandatory: true)
        }
        let first = try await coordinator()
        let running = Task { try await first.run() }

        let workerA = try await connector.connect()
        let claimA = try #require(try await ShardClaim.take(shard: 0, on: workerA))
        try await publish([], properties: StreamClaimMessage.Announcement(claimA).properties, on: workerA)
        let answerA = try await firstMessage(in: ShardClaim.queueName(shard: 0), on: workerA)
        #expect(
            try StreamClaimMessage.Answer.read(answerA.properties, coordinatorKey: key.publicKey)?.get()
                == .init(shard: 0, claim: claimA.id, from: .first))
        try await publish(try streamPartial(claim: claimA.id, first: 0, count: 3), on: workerA)
        for _ in 0..<300 where await first.model.version < 1 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await first.model.version == 1)
        // Worker A is gone (its claim queue with it); B claims the shard. A broken claim on
        // the way is parked and changes nothing.
        await workerA.close()
        var broken = MessageProperties()
        broken.headers = [StreamClaimMessage.HeaderName.shard: .int(0), StreamClaimMessage.HeaderName.claim: .string("zz")]
        try await publish([], properties: broken, on: setup)
        let workerB = try await connector.connect()
        let claimB = try #require(try await ShardClaim.take(shard: 0, on: workerB))
        try await publish([], properties: StreamClaimMessage.Announcement(claimB).properties, on: workerB)
        let answerB = try await firstMessage(in: ShardClaim.queueName(shard: 0), on: workerB)
        #expect(try StreamClaimMessage.Answer.read(answerB.properties, coordinatorKey: key.publicKey)?.get().from == .offset(3))
        // A partial A published late (it was presumed dead): superseded, nothing applied.
        try await publish(try streamPartial(claim: claimA.id, first: 3, count: 2), on: setup)
        try await publish(try streamPartial(claim: claimB.id, first: 3, count: 2), on: workerB)
        for _ in 0..<300 where await first.model.version < 2 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await first.model.version == 2)
        #expect(await first.accounting.applied == 5)
        #expect(await first.model.parameters == [Float](repeating: 3 + 2, count: spec.parameterCount))
        // B's next partial leaves a hole (5 and 6 missing): parked, and B is sent back to 5.
        try await publish(try streamPartial(claim: claimB.id, first: 7, count: 1), on: workerB)
        let rewind = try await firstMessage(in: ShardClaim.queueName(shard: 0), on: workerB)
        #expect(
            try StreamClaimMessage.Answer.read(rewind.properties, coordinatorKey: key.publicKey)?.get()
                == .init(shard: 0, claim: claimB.id, from: .offset(5)))
        for _ in 0..<300 where try await setup.queueStatus(PipelineTopology.deadQueue).messageCount < dead + 2 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await setup.queueStatus(PipelineTopology.deadQueue).messageCount == dead + 2, "the broken claim and the gap")
        #expect(await first.model.version == 2)
        running.cancel()
        _ = await running.result

        let second = try await coordinator()
        #expect(await second.model.version == 2)
        let ledger = await second.streamLedger
        #expect(ledger.shards[0]?.claim == claimB.id && ledger.resumePoint(shard: 0) == .offset(5))
        await workerB.close()
        await setup.close()
        await connector.close()
    }
}
