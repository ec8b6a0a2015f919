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
        public init(updateID: UpdateID, baseVersion: UInt64, checksum: UInt32 = 0) {
            self.updateID = updateID
            self.baseVersion = baseVersion
            self.checksum = checksum
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
        public init(updateID: UpdateID, baseVersion: UInt64, reason: RejectionReason) {
            self.updateID = updateID
            self.baseVersion = baseVersion
            self.reason = reason
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

    public var updateCount: Int { entries.count }

    public init(weightTotal: Double, massTotal: Double, entries: [Entry], settled: [Settled] = []) {
        self.weightTotal = weightTotal
        self.massTotal = massTotal
        self.entries = entries
        self.settled = settled
    }
}
