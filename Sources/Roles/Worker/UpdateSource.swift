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
}
