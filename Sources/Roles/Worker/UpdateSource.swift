import Messaging

/// What one `AggregatorWorker` reads.
enum UpdateSource: Sendable {
    /// Every queue shard of the updates path, competing with the other workers, and the
    /// chunked updates' queue: the quorum (and classic) path.
    case queues
    /// One stream shard, under this worker's claim, from where the coordinator said
    /// (`StreamWorker`).
    case stream(StreamShard)
    /// Only the chunked updates' queue: on a stream path the claimed shards' workers do
    /// not read it, one worker of the process does.
    case chunks

    /// A claimed stream shard and where its reading starts.
    struct StreamShard: Sendable {
        var claim: ShardClaim
        var from: StreamOffset
        var queue: String { UpdateShards.queue(claim.shard) }
    }

    var readsChunks: Bool {
        switch self {
        case .queues, .chunks: true
        case .stream: false
        }
    }

    /// Whether a delivery at `offset` comes before where this source starts (RabbitMQ may
    /// hand a stream reader the start of the chunk its offset is in): acknowledged and skipped.
    func skips(offset: UInt64) -> Bool {
        guard case .stream(let stream) = self, case .offset(let start) = stream.from else { return false }
        return offset < start
    }

    /// Where this source's first message should be: the offset its reader was sent to, the
    /// stream's first offset, 0, for `.first`; nil for queues and for `.next`.
    var expectedStart: UInt64? {
        guard case .stream(let stream) = self else { return nil }
        switch stream.from {
        case .first: return 0
        case .offset(let value): return value
        case .next: return nil
        }
    }

    /// The offsets retention removed before this reader got to them: from where the next
    /// message should have been (`expected`: `expectedStart`, then one past the last read)
    /// up to the one it was handed. Their updates are lost.
    ///
    /// A step of one offset is no loss: RabbitMQ begins each segment file after the first
    /// with a tracking chunk, an offset without a message, which a reader steps over (or is
    /// sent to). Retention removes whole segments, each a message or more and its tracking
    /// chunk, so a real loss is never a single offset; it may include tracking chunks, so the
    /// count is the most updates that can have been lost.
    static func removedByRetention(expected: UInt64, read offset: UInt64) -> Range<UInt64>? {
        guard offset > expected &+ 1 else { return nil }
        return expected..<offset
    }
}
