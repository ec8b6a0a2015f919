/// What a worker's partial aggregate carries besides the weighted sum itself: what the
/// coordinator needs to merge partials (weight and mass totals) and to account for every update exactly once.
public struct PartialAggregateSummary: Hashable, Sendable {
    /// One update folded into the partial.
    public struct Entry: Hashable, Sendable {
        public var updateID: UpdateID
        /// The model version the update was trained from, for staleness accounting.
        public var baseVersion: UInt64
        /// The CRC-32C trailer of the update's message (0: not known, a partial of a worker
        /// older than checksummed entries). With it the coordinator tells a second copy of
        /// an update it counted (a redelivery, a client's retry) from another message
        /// under the same id (a replay).
        public var checksum: UInt32
        /// The client the update's envelope names (nil: not known, a partial of a worker
        /// older than entries with clients). With it the coordinator holds each client to
        /// its share of an aggregate across every worker (`FleetClientLimit`).
        public var clientID: UInt64?
        public init(updateID: UpdateID, baseVersion: UInt64, checksum: UInt32 = 0, clientID: UInt64? = nil) {
            self.updateID = updateID
            self.baseVersion = baseVersion
            self.checksum = checksum
            self.clientID = clientID
        }
    }

    /// An update the worker settled without adding it (too stale, or refused and parked in
    /// the dead-letter queue). It rides in a partial so that the coordinator, the one
    /// process that persists the run's accounting, records its fate exactly once however
    /// often a crash makes the broker redeliver it.
    public struct Settled: Hashable, Sendable {
        public var updateID: UpdateID
        public var baseVersion: UInt64
        public var reason: RejectionReason
        /// The CRC-32C trailer of the refused message when it is booked under its own update
        /// id (0: not known, or booked under its bytes' digest), so that the coordinator tells
        /// a redelivered copy (the same checksum: settled with it) from another message that
        /// reuses the id (a replay: booked `duplicate`).
        public var checksum: UInt32
        public init(updateID: UpdateID, baseVersion: UInt64, reason: RejectionReason, checksum: UInt32 = 0) {
            self.updateID = updateID
            self.baseVersion = baseVersion
            self.reason = reason
            self.checksum = checksum
        }
    }

    /// Where a partial of a stream updates path was read from: offsets `first…last` of
    /// shard `shard`, read under the worker's claim `claim` (docs/cluster.md). Every
    /// update and settled entry in the partial came from that range, and every message the
    /// reader got from the range is in the partial; `first` is right after the previous
    /// partial's `last` under the same claim (or the offset the claim was answered with),
    /// since a stream's offsets have holes. So the coordinator can take ranges exactly once.
    public struct StreamRange: Hashable, Sendable {
        public var shard: UInt32
        public var claim: UInt64
        public var first: UInt64
        public var last: UInt64
        public init(shard: UInt32, claim: UInt64, first: UInt64, last: UInt64) {
            self.shard = shard
            self.claim = claim
            self.first = first
            self.last = last
        }
    }

    /// Sum of the weights the deltas were multiplied by (the payload is Σ wᵢ·Δᵢ).
    public var weightTotal: Double
    /// Sum of what a mean divides by (1 per update, or its sample count): FedBuff's
    /// mean delta is the payload divided by this.
    public var massTotal: Double
    /// The updates inside, in the order they were accumulated.
    public var entries: [Entry]
    /// The updates settled without being added.
    public var settled: [Settled]
    /// The stream range it covers; nil for a partial of queue shards.
    public var streamRange: StreamRange?

    public var updateCount: Int { entries.count }

    /// Whether every entry names its client, so the entries are written with their clients
    /// (`flags` bit 3, 40 bytes each).
    var entriesNameClients: Bool { entries.allSatisfy { $0.clientID != nil } }

    public init(
        weightTotal: Double, massTotal: Double, entries: [Entry], settled: [Settled] = [], streamRange: StreamRange? = nil
    ) {
        self.weightTotal = weightTotal
        self.massTotal = massTotal
        self.entries = entries
        self.settled = settled
        self.streamRange = streamRange
    }
}
