import Messaging

/// How far each update stream has been taken into partials the coordinator accepted,
/// and whose partials may extend it: the rule that makes the stream path effectively
/// once (docs/cluster.md, "The updates path as a stream").
///
/// A stream is not consumed away, so the broker no longer says which updates were dealt
/// with; offsets do. Each shard has one reader at a time, the worker holding its claim.
/// A worker's partial says which claim it was read under and which contiguous offsets
/// `first…last` its updates (and refused entries) came from. The coordinator takes a
/// partial only if it continues its shard exactly where the last one ended, under the
/// shard's current claim; the ledger is checkpointed with the model, so a restarted
/// coordinator judges the partials redelivered to it the same way.
///
/// A worker that claims a shard announces its claim on the partials queue, behind every
/// partial its predecessor managed to publish, and starts reading where ``claim(_:shard:)``
/// says once the coordinator has answered: whatever the predecessor sent in the meantime
/// is either accepted before the claim (and not read again) or superseded after it (and
/// read again by the new owner). Update-id deduplication stays as the second line.
public struct StreamLedger: Sendable, Equatable, Codable {
    public struct Shard: Sendable, Equatable, Codable {
        /// The last offset covered by an accepted partial; nil before the first.
        public var through: UInt64?
        /// The claim whose partials may extend the shard; nil before any claim.
        public var claim: UInt64?
        /// The worker session that announced `claim` (nil when it named none): what
        /// rebalancing counts shards by (`ShardBalancer`).
        public var worker: UInt64?
        /// Accepted partials the coordinator holds unacknowledged (FedBuff's buffer, and
        /// partials postponed to a later aggregate under DP), as `claim, first, last`:
        /// `through` already covers them, yet after a crash the broker hands them out again
        /// and they must be taken again, not judged copies.
        public var held: [Held] = []

        public init(through: UInt64? = nil, claim: UInt64? = nil, worker: UInt64? = nil, held: [Held] = []) {
            self.through = through
            self.claim = claim
            self.worker = worker
            self.held = held
        }
    }

    /// The range of an accepted partial not yet acknowledged.
    public struct Held: Sendable, Equatable, Codable {
        public var claim: UInt64
        public var first: UInt64
        public var last: UInt64
    }

    /// What becomes of a partial read off a stream shard.
    public enum Verdict: Sendable, Equatable {
        /// It continues the shard: merge it.
        case accept
        /// Every offset in it was accepted already (a partial redelivered after a crash):
        /// acknowledge and drop it.
        case copy
        /// Read under a claim that is no longer the shard's: its updates are read again by
        /// the current owner, from where the ledger stands. Acknowledge and drop it.
        case superseded
        /// It does not start right after the last accepted offset (it overlaps it, or
        /// leaves a hole): the reader must start again at `expected`. Dropped.
        case gap(expected: UInt64)
    }

    public private(set) var shards: [Int: Shard] = [:]

    public init() {}

    /// Gives `shard` to `claim` and says where its reader starts: right after the last
    /// accepted offset, or at the stream's start when nothing was accepted yet.
    public mutating func claim(_ claim: UInt64, shard: Int, worker: UInt64? = nil) -> StreamOffset {
        shards[shard, default: Shard()].claim = claim
        shards[shard, default: Shard()].worker = worker
        return resumePoint(shard: shard)
    }

    /// Each shard's current claim and the worker that holds it, for shards whose claim
    /// named its worker.
    public var holders: [Int: (claim: UInt64, worker: UInt64)] {
        shards.compactMapValues { shard in
            guard let claim = shard.claim, let worker = shard.worker else { return nil }
            return (claim, worker)
        }
    }

    /// Where the current owner of `shard` reads from.
    public func resumePoint(shard: Int) -> StreamOffset {
        guard let through = shards[shard]?.through else { return .first }
        return .offset(through &+ 1)
    }

    /// Judges a partial covering `first…last` of `shard`, read under `claim`, and moves
    /// the shard on when it is accepted.
    /// - Precondition: `first <= last` (the wire format refuses anything else).
    ///
    /// An accepted partial stays held until ``settle(shard:claim:first:last:)`` or
    /// ``settle(_:)`` says the coordinator acknowledged it; until then the same range
    /// again (the broker redelivering it after a crash) is accepted again, whatever
    /// claim came since: it was taken before that claim was made.
    public mutating func judge(shard: Int, claim: UInt64, first: UInt64, last: UInt64) -> Verdict {
        let current = shards[shard] ?? Shard()
        let range = Held(claim: claim, first: first, last: last)
        if current.held.contains(range) { return .accept }
        guard current.claim == claim else { return .superseded }
        if let through = current.through {
            if last <= through { return .copy }
            guard first == through &+ 1 else { return .gap(expected: through &+ 1) }
        }
        shards[shard, default: Shard()].through = last
        shards[shard, default: Shard()].held.append(range)
        return .accept
    }

    /// The accepted partial of `first…last` was acknowledged (it was booked whole, or
    /// parked): a redelivery of it can no longer happen, and would be a copy.
    public mutating func settle(shard: Int, claim: UInt64, first: UInt64, last: UInt64) {
        shards[shard]?.held.removeAll { $0 == Held(claim: claim, first: first, last: last) }
    }

    /// The partials of `ranges` (by shard) were acknowledged: the buffer they were in was
    /// applied (or refused whole). Every other held range stays held: a postponed partial's,
    /// and one whose partial a restarted coordinator has not been given back yet.
    public mutating func settle(_ ranges: [Int: [Held]]) {
        for (shard, settled) in ranges { shards[shard]?.held.removeAll { settled.contains($0) } }
    }

    /// Whether any accepted partial is still held.
    public var holdsPartials: Bool { shards.values.contains { !$0.held.isEmpty } }
}
