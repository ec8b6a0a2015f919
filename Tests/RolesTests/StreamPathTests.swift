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

/// The updates path as streams, end to end on the embedded broker and on RabbitMQ: two
/// stream shards, workers that claim them, and a coordinator that takes every offset once.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct StreamPathTests {
    let spec = try! ModelSpec.synthetic(parameters: 32)

    /// Updates sent to both shards are all applied once; the worker holding both shards
    /// loses its connection halfway (as with kill -9: no goodbye), the other takes its
    /// shards from where the coordinator's ledger stands, and still every update counts
    /// exactly once: what the lost worker read but never got into an accepted partial is
    /// read again, what it got in is not.
    @Test(arguments: TestTransport.allCases)
    func everyUpdateIsAppliedOnceAcrossAWorkerLost(on broker: TestTransport) async throws {
        let (connector, setup, coordinator, settings) = try await pipeline(shards: 2, on: broker)
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }
        try await coordinator.announce()

        let firstConnection = try await connector.connect()
        let first = StreamWorker(transport: firstConnection, spec: spec, settings: settings, claimInterval: .milliseconds(100))
        let firstRun = Task { try await first.run() }
        // The first worker claims both shards before the second starts.
        for _ in 0..<300 where await first.workers.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await first.workers.count == 3, "the chunks reader and both shards")

        // Clients 0…39: slots 0…39, shard = slot mod 2.
        try await publish(on: setup, 0..<40)
        for _ in 0..<500 where await coordinator.accounting.applied < 40 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await coordinator.accounting.applied == 40)

        let secondConnection = try await connector.connect()
        let second = StreamWorker(transport: secondConnection, spec: spec, settings: settings, claimInterval: .milliseconds(100))
        let secondRun = Task { try await second.run() }
        try await publish(on: setup, 40..<60)
        // Lost mid-stream: the connection closes under the first worker.
        await firstConnection.close()
        _ = await firstRun.result
        try await publish(on: setup, 60..<100)
        for _ in 0..<1_000 where await coordinator.accounting.settled < 100 { try await Task.sleep(for: .milliseconds(10)) }
        try await coordinator.drain()
        let books = await coordinator.accounting
        #expect(books.applied == 100, "every update once")
        #expect(books.rejectedTotal == 0 && books.droppedStale == 0)
        // Every update is a delta of 1: the model moved by the number applied over K, per version.
        let ledger = await coordinator.streamLedger
        #expect(ledger.shards.count == 2)
        // Each shard's 50 updates, and on RabbitMQ the tracking chunks between its segments.
        let taken = ledger.shards.values.compactMap(\.through).map { Int($0) + 1 }.reduce(0, +)
        #expect(broker == .embedded ? taken == 100 : taken > 100, "\(taken) offsets taken")
        #expect(await second.workers.count == 3, "the second worker took both shards over")
        secondRun.cancel()
        _ = await secondRun.result
        await secondConnection.close()
        try await restoreQueueShards(setup: setup, connector: connector)
    }

    /// A replay that a client (or anyone holding a copy of its signed message) publishes into
    /// another shard than its own: each shard has its own reader, so without a check the copy
    /// would be summed there beside honest updates, and the coordinator could not split that
    /// partial (docs/robustness.md). A worker that verifies credentials refuses it as
    /// `misrouted`, booked under its digest, before it is summed: every honest update is
    /// applied once and every replay is booked.
    @Test(arguments: TestTransport.allCases)
    func aSignedReplayIntoAnotherShardIsRefusedMisroutedAndCostsNoHonestUpdate(on broker: TestTransport) async throws {
        var (connector, setup, coordinator, settings) = try await pipeline(shards: 2, on: broker)
        let issuer = SigningKey()
        settings.issuer = issuer.publicKey
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }
        try await coordinator.announce()
        let workerConnection = try await connector.connect()
        let worker = StreamWorker(transport: workerConnection, spec: spec, settings: settings, claimInterval: .milliseconds(100))
        let workerRun = Task { try await worker.run() }
        for _ in 0..<300 where await worker.workers.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await worker.workers.count == 3, "the chunks reader and both shards")

        // Clients 0…29 publish signed updates to their own shard (slot mod 2); a copy of each
        // of the first ten goes, byte for byte with its headers, into the other shard.
        let expiry = UInt64(Date().timeIntervalSince1970) + 3600
        for client in UInt64(0)..<30 {
            let (body, header) = try TestUpdates.update(1, spec: spec, client: client)
            let properties = PipelineMessage.signed(
                update: PipelineMessage.properties(for: header), body: body, by: .issue(clientID: client, notAfter: expiry, by: issuer))
            for key in [client, client + 1].prefix(client < 10 ? 2 : 1).map(UpdateShards.routingKey(client:)) {
                try await setup.publish(body, exchange: PipelineTopology.updatesExchange, routingKey: key, properties: properties, mandatory: true)
            }
        }
        for _ in 0..<1_000 where await coordinator.accounting.settled < 40 { try await Task.sleep(for: .milliseconds(10)) }
        try await coordinator.drain()
        let books = await coordinator.accounting
        #expect(books.applied == 30, "every honest update once: \(books)")
        #expect(books.rejected == [.misrouted: 10] && books.droppedStale == 0, "\(books)")
        let parkedCount = try await setup.queueStatus(PipelineTopology.deadQueue).messageCount
        #expect(parkedCount == 10)
        var details: [String] = []
        if parkedCount > 0 {
            for try await parked in try await setup.consume(queue: PipelineTopology.deadQueue, prefetch: 10) {
                details.append(parked.properties.headers[MessageProperties.HeaderName.rejectDetail]?.stringValue ?? "")
                try await parked.ack()
                if details.count == parkedCount { break }
            }
        }
        #expect(details.allSatisfy { $0.hasPrefix("misrouted: client ") }, "\(details)")
        workerRun.cancel()
        _ = await workerRun.result
        await workerConnection.close()
        try await restoreQueueShards(setup: setup, connector: connector)
    }

    /// Scaling by adding a worker on a stream path: the first worker holds all four shards;
    /// a second one, finding none free, says it wants one, and the coordinator has the first
    /// release shards until each holds two. Updates published before, during and after the
    /// move are all applied exactly once.
    @Test(arguments: TestTransport.allCases)
    func aWorkerThatJoinsLaterGetsHalfTheShards(on broker: TestTransport) async throws {
        let (connector, setup, coordinator, settings) = try await pipeline(shards: 4, on: broker)
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }
        try await coordinator.announce()

        let firstConnection = try await connector.connect()
        let first = StreamWorker(
            transport: firstConnection, spec: spec, settings: settings, claimInterval: .milliseconds(50),
            wantInterval: .milliseconds(200))
        let firstRun = Task { try await first.run() }
        for _ in 0..<500 where await first.workers.count < 5 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await first.workers.count == 5, "the chunks reader and all four shards")
        try await publish(on: setup, 0..<40)

        let secondConnection = try await connector.connect()
        let second = StreamWorker(
            transport: secondConnection, spec: spec, settings: settings, claimInterval: .milliseconds(50),
            wantInterval: .milliseconds(200))
        let secondRun = Task { try await second.run() }
        try await publish(on: setup, 40..<80)
        // Two releases, at most one per 2 s (`ShardBalancer.interval`).
        func counts() async -> (Int, Int) { (await first.workers.count, await second.workers.count) }
        for _ in 0..<2_000 where await counts() != (3, 3) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await counts() == (3, 3), "two shards each, besides the chunks readers")
        try await publish(on: setup, 80..<120)
        for _ in 0..<1_000 where await coordinator.accounting.settled < 120 { try await Task.sleep(for: .milliseconds(10)) }
        try await coordinator.drain()
        let books = await coordinator.accounting
        #expect(books.applied == 120, "every update once")
        #expect(books.rejectedTotal == 0 && books.droppedStale == 0)
        let holders = await coordinator.streamLedger.holders
        #expect(holders.values.filter { $0.worker == first.session }.count == 2)
        #expect(holders.values.filter { $0.worker == second.session }.count == 2)
        // Each release frees its shard at once: the second worker never needed a third want's worth.
        #expect(await coordinator.balancer.pending.isEmpty)
        for (run, connection) in [(firstRun, firstConnection), (secondRun, secondConnection)] {
            run.cancel()
            _ = await run.result
            await connection.close()
        }
        try await restoreQueueShards(setup: setup, connector: connector)
    }

    /// Updates that the stream's retention removed before any worker read them are lost, and
    /// the worker says how many at most (`fedq_stream_offsets_lost_total`, an error line);
    /// the ones still held are applied once, and the path goes on taking new ones.
    @Test(arguments: TestTransport.allCases)
    func updatesRetentionRemovedBeforeTheyWereReadAreCountedAsLost(on broker: TestTransport) async throws {
        let (connector, setup, coordinator, settings) = try await pipeline(shards: 1, retentionBytes: 8_192, on: broker)
        let running = Task { try await coordinator.run() }
        defer { running.cancel() }
        try await coordinator.announce()
        // No worker yet: 300 updates (about 40 KB) into a stream that keeps about 8 KB.
        try await publish(on: setup, 0..<300)

        let connection = try await connector.connect()
        let worker = StreamWorker(transport: connection, spec: spec, settings: settings, claimInterval: .milliseconds(50))
        let run = Task { try await worker.run() }
        func lost() async -> Int {
            var total = 0
            for shardWorker in await worker.workers { total += await shardWorker.offsetsLostToRetention }
            return total
        }
        for _ in 0..<500 where await lost() == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let removed = await lost()
        #expect(removed > 200, "\(removed) offsets removed before they were read")
        // What is still held is applied (until the count stays put for half a second: more
        // than the coordinator's 200 ms buffer wait); nothing more arrives from before.
        var held = -1
        for _ in 0..<20 {
            let now = await coordinator.accounting.applied
            if now == held && now > 0 { break }
            held = now
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(held > 0 && held < 100, "\(held) applied of the ones held")
        if broker == .embedded {
            #expect(held + removed == 300, "one offset an update")
        } else {
            // The removed segments' tracking chunks are offsets too, one a 4 KB segment here (a
            // few updates; one per 500 MB by default): the count is an upper bound.
            #expect(held + removed >= 300 && held + removed <= 375, "\(held) + \(removed)")
        }
        // The path goes on: 20 more, all applied once.
        try await publish(on: setup, 300..<320)
        for _ in 0..<500 where await coordinator.accounting.applied < held + 20 { try await Task.sleep(for: .milliseconds(10)) }
        try await coordinator.drain()
        let books = await coordinator.accounting
        #expect(books.applied == held + 20)
        #expect(books.rejectedTotal == 0 && books.droppedStale == 0)
        #expect(await lost() == removed, "nothing more lost")
        run.cancel()
        _ = await run.result
        await connection.close()
        try await restoreQueueShards(setup: setup, connector: connector)
    }

    /// A stream path of `shards` shards (small segments, and `retentionBytes` each when
    /// given), its other queues empty, a coordinator with a signing key, and the settings of
    /// workers that check it.
    func pipeline(shards count: Int, retentionBytes: Int? = nil, on broker: TestTransport) async throws
        -> (connector: TransportConnector, setup: any Transport, coordinator: Coordinator, settings: WorkerSettings)
    {
        let shards = try UpdateShards(count).with(.stream)
        let connector = try broker.connector(name: "fedq-stream-path-tests")
        let setup = try await connector.connect()
        try await deleteUpdateQueues(on: setup)
        try await declareWithSmallSegments(shards, retentionBytes: retentionBytes, on: setup)
        for queue in [
            PipelineTopology.updateChunksQueue, PipelineTopology.partialsQueue, PipelineTopology.deadQueue,
            PipelineTopology.modelRequestsQueue, PipelineTopology.statisticsQueue,
        ] { _ = try await setup.purgeQueue(queue) }
        let key = SigningKey()
        let coordinator = try Coordinator(
            transport: try await connector.connect(), spec: spec, initialParameters: [Float](repeating: 0, count: spec.parameterCount),
            strategy: AggregationStrategy(.fedBuff(bufferSize: 4)), optimizer: ServerOptimizer(.sgd(learningRate: 1)),
            maxBufferWait: .milliseconds(200), signingKey: key)
        var settings = WorkerSettings(
            flushUpdates: 3, flushInterval: .milliseconds(20), staleness: StalenessPolicy(), defences: .off,
            coordinatorKey: key.publicKey)
        settings.shards = shards
        return (connector, setup, coordinator, settings)
    }

    /// One update of delta 1 from each of `clients`, client k on slot k (shard = slot mod S).
    func publish(on setup: any Transport, _ clients: Range<UInt64>) async throws {
        for client in clients {
            let update = try TestUpdates.update(1, spec: spec, client: client)
            try await TestUpdates.publish(update, on: setup, routingKey: UpdateShards.routingKey(client: client))
        }
    }

    /// The pipeline's topology, its streams in segments of 4 KB: RabbitMQ starts each
    /// segment with a tracking chunk that takes an offset, so a stream's offsets have holes
    /// (every 500 MB by default; here every ~15 updates), which the ranges must get over.
    func declareWithSmallSegments(_ shards: UpdateShards, retentionBytes: Int? = nil, on transport: any Transport) async throws {
        for exchange in PipelineTopology.exchanges { try await transport.declareExchange(exchange) }
        for (queue, exchange, keys) in PipelineTopology.queues(shards: shards) {
            var queue = queue
            if queue.arguments.queueType == .stream {
                queue.arguments.maxSegmentSizeBytes = 4_096
                if let retentionBytes { queue.arguments.maxLengthBytes = retentionBytes }
            }
            _ = try await transport.declareQueue(queue)
            for key in keys { try await transport.bindQueue(queue.name, exchange: exchange, routingKey: key) }
        }
    }

    /// Puts back the single quorum updates queue the other suites expect, and closes up.
    func restoreQueueShards(setup: any Transport, connector: TransportConnector) async throws {
        try await deleteUpdateQueues(on: setup)
        try await PipelineTopology.declare(on: setup, shards: .single)
        await setup.close()
        await connector.close()
    }

    /// Leaves the broker without update queues (a stream and a quorum queue cannot share a
    /// name), so that each test declares the type it needs.
    func deleteUpdateQueues(on transport: any Transport) async throws {
        for queue in try UpdateShards(UpdateShards.slotCount).queues {
            do { try await transport.deleteQueue(queue) } catch .notFound {}
        }
    }
}
