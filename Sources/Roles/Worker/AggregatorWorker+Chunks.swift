import FedCore
import Logging
import Messaging
import Wire

/// Chunked updates (docs/wire-format.md, "Chunks").
///
/// A client publishes an update longer than its chunk size to `fedq.update-chunks`, whose
/// queue `fedq.q.update-chunks` has a single active consumer: every chunk of every chunked
/// update goes to one worker, which reassembles it and hands the whole message to the same
/// `handle` as any update (the other workers stand by and take over, with the unacknowledged
/// chunks, when it goes away). Competing consumers would deal the chunks of one update out
/// to several workers, none of which could reassemble it; keeping the chunks adjacent in
/// the queue would not help, since RabbitMQ hands consecutive messages to consumers in
/// turn. Large updates are few (a 40 MB update is a broker's whole second of
/// bandwidth on this machine), so one worker at a time suffices for them, while the
/// small ones still spread over every worker on `fedq.q.updates`.
///
/// A reassembled update's chunks are acknowledged, one by one, with the batch that carries
/// it, exactly as a plain update's delivery is; a refused chunk or a set given up is parked
/// in `fedq.dead`, booked once as a settled entry, and acknowledged with its batch.
extension AggregatorWorker {
    /// Consumes `fedq.q.update-chunks` and gives up sets that take too long, until cancelled.
    func runChunks() async throws {
        let consumer = try await transport.consume(
            queue: PipelineTopology.updateChunksQueue, prefetch: settings.chunkPrefetch)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for try await delivery in consumer { try await self.takeChunk(delivery) } }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(500))
                    try await self.expireChunks()
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    func takeChunk(_ delivery: Delivery) async throws {
        for event in chunks.take(delivery) { try await carry(event) }
    }

    func expireChunks(now: ContinuousClock.Instant = .now) async throws {
        for event in chunks.expire(now: now) { try await carry(event) }
    }

    private func carry(_ event: DeliveryReassembler.Event) async throws {
        switch event {
        case .deliver(let delivery): try await handle(delivery, shard: Self.chunkShard)
        case .retry(let delivery): try await delivery.ack()
        case .refused(let error, let id, let deliveries):
            PipelineMetrics.updatesReceived.increment()
            logger.info("chunked update refused", metadata: [
                "update": "\(id)", "reason": "\(error.rejectionReason.name)", "detail": "\(error.reasonCode)",
                "chunks": "\(deliveries.count)", "error": "\(error)",
            ])
            try await transport.park(chunks: deliveries, reason: error.rejectionReason, detail: error.reasonCode)
            machine.settleRefused(.init(reason: error.rejectionReason, detail: error.reasonCode, id: id, baseVersion: 0))
            held.append(Held(shard: Self.chunkShard, delivery: Delivery.settlingTogether(deliveries)))
        }
    }

    /// Acknowledges a flushed batch's deliveries once its partials were confirmed: plain
    /// updates with one `multiple` ack of each shard's newest (they came in order on that
    /// shard's consumer, and every earlier one is in this flush or an earlier one,
    /// confirmed before it; delivery tags are per channel), reassembled ones each alone
    /// (their chunks came on another consumer, interleaved with other sets).
    static func acknowledge(_ deliveries: [Held]) async throws {
        var newest: [Int: Delivery] = [:]
        for held in deliveries {
            if held.delivery.isReassembled { try await held.delivery.ack() } else { newest[held.shard] = held.delivery }
        }
        for delivery in newest.values { try await delivery.ack(multiple: true) }
    }
}
