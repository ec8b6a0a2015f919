import Aggregation
import FedCore
import Foundation
import Learning
import Logging
import Messaging
import Trust
import Wire

/// A competing consumer on the updates queue (on every shard of it, `UpdateShards`): decodes each client update
/// straight into a running partial aggregate, weighs it by staleness, and
/// publishes the partial to the coordinator.
///
/// Updates are acknowledged only after the broker confirmed the partial that
/// carries them, so a worker that dies loses nothing: its unacknowledged
/// updates go back to the queue for another worker. Updates it does not add
/// (refused: too stale, undecodable, another model's, …; parked in `fedq.dead`) travel as settled entries
/// of a partial too, because only the coordinator persists the run's books.
/// A redelivered update may already be in a partial the coordinator applied,
/// so it goes alone in a partial of its own, which the coordinator can then
/// recognise whole and skip. Those decisions are `WorkerStateMachine`'s; this
/// actor only does the I/O they call for.
public actor AggregatorWorker {
    let transport: any Transport
    private let spec: ModelSpec
    let settings: WorkerSettings
    /// Every decision: refuse, add, when to flush.
    var machine: WorkerStateMachine
    /// Deliveries behind the machine's open batch, oldest first, with the shard each came from.
    var held: [Held] = []
    /// Chunked updates being put back together (`AggregatorWorker+Chunks.swift`).
    var chunks: DeliveryReassembler
    public private(set) var partialsPublished = 0
    /// Updates scaled down to the norm bound so far.
    public var updatesClipped: Int { machine.clippedCount }
    /// The newest version this worker has heard of from a coordinator's notice (what its
    /// staleness checks measure against).
    public var knownVersion: ModelVersion { machine.knownVersion }
    let logger: Logger
    private let flushes: AsyncStream<Outgoing>
    private let flushQueue: AsyncStream<Outgoing>.Continuation
    /// What this worker reads (`UpdateSource`).
    let source: UpdateSource
    /// On a stream: the offset the next partial's range starts at (right after the last
    /// one's, or where the coordinator's answer said); nil until known.
    private var streamNext: UInt64?
    /// Offsets of this worker's stream shard that retention removed before they were read
    /// (`UpdateSource.removedByRetention`), where it started or as it went: at most that
    /// many updates lost.
    public private(set) var offsetsLostToRetention = 0
    /// The consumers `run` reads (updates and version notices), for `stopReading`.
    private var readers: [Consumer] = []
    /// This process's instance on partials' return addresses (`PartialReturn`): random, so a
    /// restarted worker is never asked for what its predecessor kept.
    let instance = UInt64.random(in: 1...UInt64.max)
    /// The sequence number of the next partial with a return address.
    private var nextPartial: UInt64 = 0
    /// The summed updates of the last partials, for the coordinator to ask back (nil: on a
    /// stream shard, or `effectiveReturnShelfBytes` 0).
    private var shelf: ReturnShelf?
    /// Partials asked back already: a request rides on every notice until it is fulfilled.
    private var answeredReturns = Set<UInt64>()

    /// A worker on `settings.shards`' queues. (On a stream updates path, `StreamWorker`
    /// runs one of these per claimed shard.)
    public init(
        transport: any Transport, spec: ModelSpec, settings: WorkerSettings,
        logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.init(transport: transport, spec: spec, settings: settings, source: .queues, logger: logger)
    }

    init(transport: any Transport, spec: ModelSpec, settings: WorkerSettings, source: UpdateSource, logger: Logger) {
        self.source = source
        if case .stream(let stream) = source, case .offset(let start) = stream.from { streamNext = start }
        self.logger = logger
        self.transport = transport
        self.spec = spec
        self.settings = settings
        machine = WorkerStateMachine(spec: spec, settings: settings)
        if case .stream = source {} else if settings.effectiveReturnShelfBytes > 0 {
            shelf = ReturnShelf(capacity: settings.effectiveReturnShelfBytes)
        }
        chunks = DeliveryReassembler(limits: settings.chunkLimits)
        (flushes, flushQueue) = AsyncStream.makeStream(of: Outgoing.self)
    }

    /// Consumes updates (and listens for new model versions) until cancelled. What it
    /// holds unconfirmed then goes back to the queue with its consumer, for another worker.
    public func run() async throws {
        try await awaitRevocations()
        var shards: [Consumer] = []
        switch source {
        case .queues:
            for queue in settings.shards.queues {
                shards.append(try await transport.consume(queue: queue, prefetch: settings.prefetch))
            }
        case .stream(let stream):
            shards.append(try await transport.consume(stream: stream.queue, prefetch: settings.prefetch, from: stream.from))
        case .chunks:
            break
        }
        let versions = try await PipelineTopology.subscribeToVersions(on: transport)
        // Its version notices too: the queue is auto-delete, so it goes with its consumer.
        readers = shards + [versions]
        // One loop takes every shard's deliveries in the order they arrive. (Chunked updates
        // come through `runChunks`; interleaving with it is safe: a refusal joins `held` and
        // the machine's batch together, after its parking suspends.)
        let (deliveries, merge) = AsyncThrowingStream.makeStream(of: Held.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A notice that does not verify is dropped and counted: it never stops the worker.
                let verifier = ModelVerifier(coordinatorKey: self.settings.coordinatorKey, logger: self.logger)
                for try await delivery in versions {
                    if let version = verifier.version(delivery, spec: self.spec) { await self.heard(version) }
                    try await self.giveBack(asked: delivery.properties)
                    // The coordinator's revocation list rides on its notices, signed apart.
                    if let held = self.settings.revocations { Self.takeRevocations(delivery, into: held, verifier: verifier, logger: self.logger) }
                    try await delivery.ack()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.settings.flushInterval / 2)
                    await self.flushIfDue()
                }
            }
            // A shard's consumer that ends (its queue deleted, the connection closed) ends
            // the session, as the one consumer did before shards: the supervisor starts anew.
            for (shard, consumer) in shards.enumerated() {
                let source = self.source
                group.addTask {
                    var expected = source.expectedStart
                    for try await delivery in consumer {
                        if let offset = delivery.streamOffset {
                            // A stream reader may be handed messages before the offset it asked for.
                            if source.skips(offset: offset) {
                                try await delivery.ack()
                                continue
                            }
                            if let expected, let removed = UpdateSource.removedByRetention(expected: expected, read: offset) {
                                await self.lostToRetention(removed)
                            }
                            expected = offset &+ 1
                        }
                        merge.yield(Held(shard: shard, delivery: delivery))
                    }
                }
                group.addTask { try await PipelineMetrics.watch(consumer.queue, on: self.transport) }
            }
            group.addTask {
                for try await held in deliveries { try await self.handle(held.delivery, shard: held.shard) }
            }
            if source.readsChunks { group.addTask { try await self.runChunks() } }
            group.addTask { for await outgoing in self.flushes { try await self.send(outgoing) } }
            defer {
                merge.finish()
                group.cancelAll()
            }
            try await group.next()
        }
    }

    /// Nothing can bring those updates back, and nothing else would tell: the partial's range
    /// starts where the coordinator said, so the ledger sees no gap. Say it loudly, and count it.
    private func lostToRetention(_ removed: Range<UInt64>) {
        offsetsLostToRetention += removed.count
        PipelineMetrics.streamOffsetsLost.increment(by: removed.count)
        let shard = if case .stream(let stream) = source { "\(stream.queue)" } else { "?" }
        logger.error(
            "\(shard): offsets \(removed.lowerBound)…\(removed.upperBound - 1) were removed by the stream's retention before they were read: up to \(removed.count) updates lost (keep workers running, or give the shards more retention: docs/cluster.md)")
    }

    /// A delivery held for the open batch and the shard whose consumer settles it
    /// (`chunkShard` for a reassembled update, whose chunks are acknowledged one by one).
    struct Held: Sendable {
        var shard: Int
        var delivery: Delivery
        /// Taken into the open partial (not refused): what the return shelf keeps.
        var summed = false
    }

    /// Sums again, each alone, the updates of this worker's partials a notice asks back
    /// (`PartialReturn`). A request for a partial no longer kept is said once: the
    /// coordinator books those updates as duplicates when its wait ends.
    private func giveBack(asked properties: MessageProperties) async throws {
        guard shelf != nil else { return }
        guard let requests = PartialReturn.requests(on: properties) else {
            PipelineMetrics.modelsRejected(.malformed).increment()
            logger.warning("return requests on a version notice dropped: not a whole number of 16-byte addresses, or too many")
            return
        }
        for request in requests where request.worker == instance && !answeredReturns.contains(request.partial) {
            if answeredReturns.count >= PartialReturn.maxRequests { answeredReturns.removeAll() }
            answeredReturns.insert(request.partial)
            guard let updates = shelf?.take(partial: request.partial) else {
                logger.warning("the coordinator asked back partial \(request.partial), no longer kept: its new updates are lost (a larger --return-shelf keeps more)")
                continue
            }
            logger.notice("the coordinator parked partial \(request.partial) (it mixed counted and new updates): summing its \(updates.count) updates again")
            for update in updates {
                PipelineMetrics.updatesReturned.increment()
                try await handle(
                    Delivery(
                        body: update.body, properties: update.properties, exchange: "", routingKey: "", redelivered: true,
                        deliveryTag: 0, acknowledger: SettledAlready()),
                    shard: Self.chunkShard, returned: true)
            }
        }
    }

    /// A returned update's delivery: its message was acknowledged with its first partial.
    private struct SettledAlready: DeliveryAcknowledger {
        func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome, multiple: Bool) async throws(TransportError) {}
    }

    /// Before the first update: waits (at most `firstNoticeWait`) for a version notice, and
    /// takes the revocation list on it, when the worker checks credentials against the
    /// coordinator's list and holds none yet. A separate subscription, cancelled after: the
    /// run's own is opened after the update consumers, as before.
    private func awaitRevocations() async throws {
        guard let held = settings.revocations, held.distributed == nil, let key = settings.coordinatorKey else { return }
        let versions = try await PipelineTopology.subscribeToVersions(on: transport)
        let verifier = ModelVerifier(coordinatorKey: key, logger: logger)
        let (spec, logger) = (self.spec, self.logger)
        let heard = try await withThrowingTaskGroup(of: ModelVersion?.self) { group in
            group.addTask {
                for try await delivery in versions {
                    let version = verifier.version(delivery, spec: spec)
                    Self.takeRevocations(delivery, into: held, verifier: verifier, logger: logger)
                    try await delivery.ack()
                    if let version { return version }
                }
                return nil
            }
            if let wait = settings.firstNoticeWait {
                group.addTask {
                    try await Task.sleep(for: wait)
                    return nil
                }
            } else {
                logger.notice("waiting for the coordinator's first version notice (its revocation list) before consuming any update")
            }
            let first = try await group.next() ?? nil
            await versions.cancel()
            group.cancelAll()
            return first
        }
        if let heard {
            machine.heard(heard)
        } else {
            logger.warning(
                "no version notice from the coordinator within \(settings.firstNoticeWait ?? .zero): consuming updates without its revocation list until one comes")
        }
    }

    /// Takes the coordinator's revocation list on a notice if it is newer than `held`'s and
    /// signed: logged once, and the gauge set, so an operator sees every worker's serial.
    private static func takeRevocations(_ delivery: Delivery, into held: Revocations, verifier: ModelVerifier, logger: Logger) {
        guard let (list, serial) = verifier.revocations(delivery, newerThan: held), held.adopt(list, serial: serial) else { return }
        PipelineMetrics.revocationListSerial.record(Double(serial))
        logger.notice("revocation list \(serial) from the coordinator: \(list.clients.count) clients, \(list.keys.count) keys")
    }

    /// Hands whatever is held now to `run`'s flusher (the end of a simulation); it is
    /// published after the partials before it.
    public func drain() {
        enqueue(machine.takeBatch())
    }

    /// Cancels the consumers (a stream shard's reader asked to release the shard,
    /// `StreamWorker`), closing their channels: the broker stops delivering to them at once,
    /// and the version notices' auto-delete queue goes with its consumer.
    /// What the worker held unsent is read again under the shard's next claim.
    func stopReading() async {
        for reader in readers { await reader.cancel() }
        readers = []
    }

    private func heard(_ version: ModelVersion) {
        machine.heard(version)
    }

    /// Carries out what the state machine decides about one update.
    func handle(_ delivery: Delivery, shard: Int = 0, returned: Bool = false) async throws {
        if !returned { PipelineMetrics.updatesReceived.increment() }
        switch machine.receive(
            delivery.body, properties: delivery.properties, redelivered: delivery.redelivered,
            shard: returned ? nil : pathShard(ofConsumer: shard), returned: returned
        ) {
        case .refuse(let refusal):
            logger.info("update refused", metadata: [
                "update": "\(refusal.id)", "reason": "\(refusal.reason.name)", "detail": "\(refusal.detail)",
                "base_version": "\(refusal.baseVersion)", "known_version": "\(machine.knownVersion)",
            ])
            // Parked (and confirmed) before anything else happens to it: an operator can
            // inspect it, and the coordinator counts it once.
            try await transport.publish(
                delivery.body, exchange: PipelineTopology.deadExchange, routingKey: "",
                properties: PipelineMessage.deadLettered(delivery.properties, reason: refusal.reason, detail: refusal.detail),
                mandatory: false, chunkSize: settings.chunkSize)
            machine.settleRefused(refusal)
            held.append(Held(shard: shard, delivery: delivery))
        case .added(let batches):
            held.append(Held(shard: shard, delivery: delivery, summed: true))
            for batch in batches { enqueue(batch) }
        }
    }

    private func flushIfDue() {
        enqueue(machine.batchIfDue())
        shelf?.expire()
    }

    /// What one flush sends: the batch, and the deliveries it acknowledges once the
    /// broker confirmed it.
    private struct Outgoing: Sendable {
        var batch: WorkerStateMachine.Batch
        var deliveries: [Held]
    }

    /// The shard of a reassembled update's delivery: not a queue's (`acknowledge`).
    static let chunkShard = -1

    /// The updates path's shard behind consumer `index` (its index among the queue shards,
    /// or the claimed stream shard); nil for reassembled chunked updates, which bypass the shards.
    private func pathShard(ofConsumer index: Int) -> Int? {
        guard index != Self.chunkShard else { return nil }
        switch source {
        case .queues: return index
        case .stream(let stream): return stream.claim.shard
        case .chunks: return nil
        }
    }

    /// Hands a batch to the flusher task without waiting for its confirm: the consumer
    /// goes on decoding the next updates (within its prefetch) meanwhile. Every flush
    /// while running goes through that one task, so partials are confirmed in the order
    /// their updates were delivered, which is what lets `send` ack them with one
    /// `multiple` ack.
    private func enqueue(_ batch: WorkerStateMachine.Batch?) {
        guard let batch else { return }
        let deliveries = Array(held.prefix(batch.deliveries))
        held.removeFirst(batch.deliveries)
        flushQueue.yield(Outgoing(batch: batch, deliveries: deliveries))
    }

    private func send(_ outgoing: Outgoing) async throws {
        let partial = outgoing.batch.partial
        if case .stream(let stream) = source {
            try await sendStreamPartial(outgoing.batch, deliveries: outgoing.deliveries, claim: stream.claim)
            try await Self.acknowledge(outgoing.deliveries)
            return
        }
        if !partial.isEmpty {
            // Shelved before it goes: the coordinator's request could come before the confirm.
            let address = shelf.map { _ in PartialReturn(worker: instance, partial: nextPartial) }
            if let address {
                nextPartial += 1
                shelf?.shelve(
                    outgoing.deliveries.filter(\.summed).map { .init(body: $0.delivery.body, properties: $0.delivery.properties) },
                    partial: address.partial)
            }
            try await publish(PartialAggregateSummary(
                weightTotal: partial.weightTotal, massTotal: partial.massTotal,
                entries: partial.entries.map(PartialAggregateSummary.Entry.init)),
                sum: partial.weightedSum,
                codec: PartialPrecision.codec(
                    for: partial.weightedSum, holdsExactUpdates: settings.exactPartials || outgoing.batch.holdsExactUpdates),
                returnTo: address)
        }
        // Settled entries travel apart from added ones: the coordinator can account each
        // alone, however the broker interleaves redeliveries. Their zero sum deflates to
        // almost nothing.
        if !outgoing.batch.settled.isEmpty {
            try await publish(
                PartialAggregateSummary(weightTotal: 0, massTotal: 0, entries: [], settled: outgoing.batch.settled),
                sum: [Float](repeating: 0, count: spec.parameterCount), codec: Self.settledCodec)
        }
        try await Self.acknowledge(outgoing.deliveries)
    }

    private static let settledCodec = try! CodecSpec(parsing: "fp32+deflate")

    /// A stream shard's batch travels as one partial, its updates and settled entries
    /// together with the offsets they were read from: the coordinator takes a stream's
    /// offsets exactly once and in order (`StreamLedger`), so a batch cannot be split.
    private func sendStreamPartial(_ batch: WorkerStateMachine.Batch, deliveries: [Held], claim: ShardClaim) async throws {
        guard let read = deliveries.last(where: { $0.delivery.streamOffset != nil })?.delivery.streamOffset else { return }
        // The range starts where the previous one ended, not at this batch's first message:
        // a stream's offsets have holes (RabbitMQ writes a tracking chunk at the start of each
        // segment file, every 500 MB, and it takes an offset), and the coordinator takes
        // ranges that continue each other exactly.
        let first = streamNext ?? deliveries.first(where: { $0.delivery.streamOffset != nil })?.delivery.streamOffset ?? read
        let last = max(read, first)
        streamNext = last &+ 1
        let partial = batch.partial
        let range = PartialAggregateSummary.StreamRange(shard: UInt32(claim.shard), claim: claim.id, first: first, last: last)
        let summary = PartialAggregateSummary(
            weightTotal: partial.weightTotal, massTotal: partial.massTotal,
            entries: partial.entries.map(PartialAggregateSummary.Entry.init),
            settled: batch.settled, streamRange: range)
        if partial.isEmpty {
            try await publish(summary, sum: [Float](repeating: 0, count: spec.parameterCount), codec: Self.settledCodec)
        } else {
            try await publish(
                summary, sum: partial.weightedSum,
                codec: PartialPrecision.codec(for: partial.weightedSum, holdsExactUpdates: settings.exactPartials || batch.holdsExactUpdates))
        }
    }

    private func publish(_ summary: PartialAggregateSummary, sum: [Float], codec: CodecSpec, returnTo: PartialReturn? = nil) async throws {
        let header = MessageHeader(
            kind: .partialAggregate, specHash: spec.hash, modelVersion: machine.knownVersion,
            parameterCount: spec.parameterCount, codec: codec)
        let body = try Envelope.encode(sum, header: header, partial: summary)
        var properties = PipelineMessage.properties(for: header)
        returnTo?.attach(to: &properties)
        try await transport.publish(
            body, exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey,
            properties: properties, mandatory: true, chunkSize: settings.chunkSize)
        partialsPublished += 1
        PipelineMetrics.partialsFlushed.increment()
    }
}
