/// The pipeline's ledger of updates, for the run summary and the invariant
/// published = applied + dropped stale + rejected (+ in flight). Clients count what they
/// published; the coordinator counts what it applied and, from the settled entries
/// workers send it, what was dropped stale or rejected. Ledgers merge by adding, so the
/// two halves combine, whichever processes kept them.
public struct AggregationAccounting: Sendable, Equatable, Codable {
    /// Staleness values at or above this share the histogram's last bucket.
    public static let histogramBuckets = 64

    public private(set) var published = 0
    public private(set) var applied = 0
    public private(set) var droppedStale = 0
    public private(set) var rejected: [RejectionReason: Int] = [:]
    /// `stalenessHistogram[τ]` counts applied updates of staleness τ (the last bucket
    /// holds τ ≥ `histogramBuckets − 1`); trailing empty buckets are not stored.
    public private(set) var stalenessHistogram: [Int] = []
    /// Σ τ over applied updates, for the mean.
    public private(set) var stalenessSum = 0

    public init() {}

    public var rejectedTotal: Int { rejected.values.reduce(0, +) }
    /// Updates whose fate is known.
    public var settled: Int { applied + droppedStale + rejectedTotal }
    /// Published but not yet applied, dropped or rejected (buffered or on the wire).
    public var inFlight: Int { published - settled }
    /// Mean staleness of applied updates; 0 before any.
    public var meanStaleness: Double { applied == 0 ? 0 : Double(stalenessSum) / Double(applied) }

    public mutating func recordPublished(_ count: Int = 1) { published += count }

    public mutating func recordDroppedStale(_ count: Int = 1) { droppedStale += count }

    public mutating func recordRejected(_ reason: RejectionReason, count: Int = 1) {
        rejected[reason, default: 0] += count
    }

    /// Records one applied update of staleness τ.
    public mutating func recordApplied(staleness: Int) {
        let tau = max(0, staleness)
        applied += 1
        stalenessSum += tau
        let bucket = min(tau, Self.histogramBuckets - 1)
        if stalenessHistogram.count <= bucket {
            stalenessHistogram += [Int](repeating: 0, count: bucket + 1 - stalenessHistogram.count)
        }
        stalenessHistogram[bucket] += 1
    }

    /// Records an aggregate applied while the model was at `version` (before the bump):
    /// each update's staleness is measured against the model it actually changed.
    public mutating func recordApplied(_ aggregate: AppliedAggregate, at version: ModelVersion) {
        for entry in aggregate.entries {
            recordApplied(staleness: staleness(current: version, base: entry.baseVersion))
        }
    }

    /// Adds another ledger's counts to this one.
    public mutating func merge(_ other: AggregationAccounting) {
        published += other.published
        applied += other.applied
        droppedStale += other.droppedStale
        rejected.merge(other.rejected, uniquingKeysWith: +)
        stalenessSum += other.stalenessSum
        if stalenessHistogram.count < other.stalenessHistogram.count {
            stalenessHistogram += [Int](repeating: 0, count: other.stalenessHistogram.count - stalenessHistogram.count)
        }
        for (bucket, count) in other.stalenessHistogram.enumerated() {
            stalenessHistogram[bucket] += count
        }
    }
}
