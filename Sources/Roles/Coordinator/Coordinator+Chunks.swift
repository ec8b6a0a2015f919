import FedCore
import Learning
import Logging
import Messaging
import Wire

/// Chunked partials (docs/wire-format.md, "Chunks"): a partial of a large model (40 MB of
/// fp32 for 10 million parameters) is longer than RabbitMQ's message limit, so a worker
/// publishes it as chunks. `fedq.q.partials` has a single active consumer, so every chunk
/// reaches this coordinator, in each worker's order; sets of several workers interleave and
/// are told apart by their key. A reassembled partial is handled like any other, and its
/// chunks are acknowledged with it. Refused chunks (forged, corrupt, or a set that never
/// completes) are parked in `fedq.dead` and acknowledged: no update inside them was ever
/// counted, and the worker that sent them still holds those updates unacknowledged only if
/// it crashed, in which case they come back from the broker.
extension Coordinator {
    /// The largest partial of `spec`: header, the largest section, fp32 payload and trailer;
    /// sets open at most a minute (checked as chunks arrive).
    static func chunkLimits(spec: ModelSpec) -> ChunkReassembler<Delivery>.Limits {
        let largest = Envelope.headerByteCount + 24 + 32 * DecodeLimits.default.maxPartialEntries + 4 * spec.parameterCount + 4
        return ChunkReassembler.Limits(maxMessageBytes: largest, maxChunks: 32, maxOpenSets: 8, timeout: .seconds(60))
    }

    /// The prefetch on `fedq.q.partials` for `partials` partials: as many chunks as that many
    /// partials take when they are chunked. Buffered partials stay unacknowledged until their
    /// version is applied, so a prefetch counted in messages would let a buffer of chunked
    /// partials fill it and never complete.
    func partialPrefetch(_ partials: Int) -> Int {
        let largest = ModelChunks.modelMessageBytes(spec) + 24 + 32 * 256
        return min(65_535, partials * Chunk.messageCount(length: largest, chunkSize: chunkSize))
    }

    /// One delivery from `fedq.q.partials`: a partial, a chunk of one, or a worker's shard
    /// claim or want (`Coordinator+StreamClaims.swift`).
    func take(_ delivery: Delivery) async throws {
        if let claim = StreamClaimMessage.Announcement.read(delivery.properties) {
            return try await takeClaim(claim, delivery: delivery)
        }
        if let want = StreamClaimMessage.Want.read(delivery.properties) {
            return try await takeWant(want, delivery: delivery)
        }
        for event in chunks.take(delivery) + chunks.expire() {
            switch event {
            case .deliver(let partial): try await handle(partial)
            case .retry(let chunk): try await chunk.ack()
            case .refused(let error, let id, let deliveries):
                logger.warning("chunked partial refused, parked in \(PipelineTopology.deadQueue)", metadata: [
                    "set": "\(id)", "reason": "\(error.rejectionReason.name)", "detail": "\(error.reasonCode)",
                    "chunks": "\(deliveries.count)", "error": "\(error)",
                ])
                try await transport.park(chunks: deliveries, reason: error.rejectionReason, detail: error.reasonCode)
                for chunk in deliveries { try await chunk.ack() }
            }
        }
    }
}
