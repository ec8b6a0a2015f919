import Aggregation
import FedCore
import Messaging
import Trust
import Wire

/// Settings of an aggregator worker.
public struct WorkerSettings: Sendable {
    /// Flush a partial once it holds this many updates…
    public var flushUpdates: Int
    /// …or once its oldest update waited this long.
    public var flushInterval: Duration
    /// Unacknowledged updates the broker may hand this worker at once.
    public var prefetch: Int
    public var staleness: StalenessPolicy
    public var limits: DecodeLimits
    /// Refuse updates whose L2 norm exceeds this (nil: no bound): one client's
    /// exploding or malicious update must not wreck the global model.
    public var maxNorm: Float?
    /// Differential privacy's clip C: every accepted update is scaled down to L2 norm C
    /// before it enters the partial (nil: no clipping). Clipping here, not at the
    /// coordinator, means no unclipped update ever leaves a worker.
    public var clipNorm: Double?
    /// Clipping, sample-count bounds and the per-client rate limit every update passes
    /// before it joins a partial (issue 16); on by default.
    public var defences: UpdateDefences
    /// The federation's issuer key (`--issuer-key`): with it, only updates signed under a
    /// credential it issued are taken; the rest are refused as `unauthenticated`.
    public var issuer: VerifyingKey?
    /// Credentials withdrawn before they expire, with `issuer`: updates under one are
    /// refused as `unauthenticated` (`credential-revoked`). The worker's own file's
    /// (`--revoked`, replaced when the file changes) and, with `coordinatorKey`, the list the
    /// coordinator signs on its version notices. Shared by the process's workers, so a new
    /// session keeps the list the last one had.
    public var revocations: Revocations?
    /// With `revocations` and `coordinatorKey`: how long a worker that holds no list from
    /// the coordinator yet waits for a notice before it consumes updates (the coordinator
    /// repeats its notice every 2 s), so that a new process does not admit a client the
    /// coordinator's list revokes in its first seconds. After this it starts all the same,
    /// with one warning line: a worker must not depend on the coordinator to start. Nil
    /// (`--notice-wait forever`): it never consumes before it has the coordinator's list,
    /// for a federation that would rather stop than admit a revoked client.
    public var firstNoticeWait: Duration? = .seconds(3)
    /// The coordinator's key (`--coordinator-key`): version notices it did not sign are dropped.
    public var coordinatorKey: VerifyingKey?
    /// The update queues to consume: every shard, so that no shard is left without
    /// consumers when a worker dies, and each shard keeps competing consumers.
    public var shards: UpdateShards = .single
    /// Partials (and refused messages parked in `fedq.dead`) longer than this travel as
    /// chunks (`--chunk-size`; docs/wire-format.md, "Chunks").
    public var chunkSize: Int = Chunk.defaultChunkSize
    /// Partials always in fp32 (`--exact-partials`), even when every update in them was
    /// lossy: for an audit that replays the sums bit for bit, at twice the partials' bytes.
    public var exactPartials = false
    /// Bytes of updates kept from the last partials so that the coordinator can ask them back
    /// (`ReturnShelf`, `--return-shelf`); 0 keeps none, and a partial the coordinator must
    /// park then costs its new updates, as before returns. Nil: `defaultReturnShelfBytes` for
    /// a worker that verifies credentials, none for one that does not. Queue shards only: a
    /// stream shard's partials carry offsets, and its reader settles a replay itself.
    ///
    /// Why not always: the shelf costs its memory and filling it once (page faults: a 128 MiB
    /// shelf made short benchmarks 2-4% slower; BENCHMARKS.md, "A worker's return shelf").
    /// Where updates are signed, a replay is how an admitted client (or an insider) can still
    /// cost honest updates, and the shelf is worth it; where they are not, anyone can publish
    /// anything under any id, and the shelf would not make that deployment trustworthy.
    /// 32 MiB: 160 updates of 200 KB, a quarter of a second of a worker at full speed here;
    /// the coordinator asks within milliseconds.
    public var returnShelfBytes: Int? = nil
    public static let defaultReturnShelfBytes = 32 << 20

    /// `returnShelfBytes`, resolved.
    public var effectiveReturnShelfBytes: Int { returnShelfBytes ?? (issuer == nil ? 0 : Self.defaultReturnShelfBytes) }
    /// How long a chunked update may stay incomplete before it is given up and booked.
    public var chunkTimeout: Duration = .seconds(60)

    /// The bounds on chunked updates held for reassembly: messages up to `limits`, of at
    /// most 64 MiB worth of chunks (16 at 4 MiB), `ChunkedMessages.openUpdateSets` sets at once.
    public var chunkLimits: ChunkReassembler<Delivery>.Limits {
        ChunkReassembler.Limits(
            maxMessageBytes: limits.maxMessageBytes, maxChunks: maxChunks, maxOpenSets: ChunkedMessages.openUpdateSets,
            timeout: chunkTimeout)
    }

    private var maxChunks: Int { Chunk.messageCount(length: min(limits.maxMessageBytes, 64 << 20), chunkSize: chunkSize) }

    /// Chunks of updates the broker may hand this worker unacknowledged at once; with the
    /// open sets' bound, what caps the memory chunked updates take (66 chunks of 4 MiB).
    public var chunkPrefetch: Int { ChunkedMessages.prefetch(maxChunks: maxChunks) }

    public init(
        flushUpdates: Int, flushInterval: Duration = .milliseconds(20), prefetch: Int = 32,
        staleness: StalenessPolicy, limits: DecodeLimits = .default, maxNorm: Float? = nil, clipNorm: Double? = nil,
        defences: UpdateDefences = .default, issuer: VerifyingKey? = nil, coordinatorKey: VerifyingKey? = nil
    ) {
        self.issuer = issuer
        self.defences = defences
        self.coordinatorKey = coordinatorKey
        self.clipNorm = clipNorm
        self.flushUpdates = max(1, flushUpdates)
        self.flushInterval = flushInterval
        self.prefetch = max(prefetch, self.flushUpdates)
        self.staleness = staleness
        self.limits = limits
        self.maxNorm = maxNorm
    }
}
