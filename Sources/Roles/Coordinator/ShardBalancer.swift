/// Which stream shard the coordinator asks a worker to let go of, so that a worker that
/// joined late gets a share of the shards (docs/cluster.md, "Rebalancing").
///
/// Claims alone never rebalance: a worker keeps what it claimed until its connection ends,
/// so workers that started first would hold every shard and a worker added for load
/// would idle. A worker that finds no free shard sends a want; the coordinator, which knows
/// from the claims who holds what (`StreamLedger.holders`), picks the worker holding the
/// most and, when it holds at least two more than the wanting one, asks it to release one.
/// Repeated, that leaves no two workers more than one shard apart. The decision lives
/// here, apart from I/O, so it is tested as a value.
///
/// A release is only ever a request: the shard is free once its holder deleted its claim
/// queue, and the ledger keeps the move effectively once however it goes (whatever the
/// holder read and did not get in is read again by the next claim).
public struct ShardBalancer: Sendable {
    /// At most one release per this long: a release takes effect only when the shard is
    /// claimed again (about a claim interval later), so deciding faster would act on loads
    /// that are already moving.
    public let interval: Duration
    /// A release not followed by a new claim of its shard within this long is forgotten
    /// (its worker died first, say: the shard is then free anyway).
    public let pendingTimeout: Duration
    /// Shards asked to be released and not claimed since, with when.
    public private(set) var pending: [Int: ContinuousClock.Instant] = [:]
    private var lastRelease: ContinuousClock.Instant?

    public init(interval: Duration = .seconds(2), pendingTimeout: Duration = .seconds(15)) {
        self.interval = interval
        self.pendingTimeout = pendingTimeout
    }

    /// `worker` found no free shard: the claim to release in its favour, or nil when the
    /// shards are as even as they can be (or a release was asked for too recently).
    /// - Parameter holders: each claimed shard's claim and worker (`StreamLedger.holders`).
    public mutating func want(
        from worker: UInt64, holders: [Int: (claim: UInt64, worker: UInt64)], now: ContinuousClock.Instant
    ) -> (shard: Int, claim: UInt64)? {
        pending = pending.filter { now - $0.value < pendingTimeout }
        if let lastRelease, now - lastRelease < interval { return nil }
        var held: [UInt64: [Int]] = [:]
        for (shard, holder) in holders where pending[shard] == nil { held[holder.worker, default: []].append(shard) }
        let mine = held[worker]?.count ?? 0
        // The most loaded other worker; ties go to the smaller id, so the choice is one.
        guard let donor = held.filter({ $0.key != worker }).max(by: { ($0.value.count, $1.key) < ($1.value.count, $0.key) }),
            donor.value.count >= mine + 2, let shard = donor.value.max(), let claim = holders[shard]?.claim
        else { return nil }
        pending[shard] = now
        lastRelease = now
        return (shard, claim)
    }

    /// `shard` was claimed again: a release asked for it has taken effect.
    public mutating func claimed(shard: Int) {
        pending[shard] = nil
    }
}
