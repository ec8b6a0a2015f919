import Aggregation
import FedCore

/// Every update id the coordinator has settled, for exactly as long as a copy of it could
/// still be counted: how a redelivered or replayed update is never applied twice.
///
/// An update judged as someone's (applied, dropped stale, refused over a bound) is kept
/// under its base version until that version falls `horizon` versions behind the model
/// (`StalenessPolicy.horizon`, plus `workerLag` for a worker that has not heard of the
/// newest versions yet). Past that, any copy is dropped stale by the workers, and one that
/// slipped through anyway is refused by the coordinator (`isBeyondHorizon`), so forgetting
/// the id is safe: the id carries its own expiry. No flood of other messages can push an
/// id out early, unlike the bounded window of ids this replaced: 65,536 cheap refusals
/// once made a replay count twice (issue 16).
///
/// What is booked under its bytes' digest (refused before it could be anyone's update)
/// is only ever repeated by a redelivered partial, so a bounded window of recent ones
/// (`refusals`) is enough for those.
public struct SettledIndex: Sendable, Equatable {
    /// Versions after its base version that an id is remembered, beyond the staleness horizon.
    public static let workerLag = 64

    /// How many versions behind the model an id's base version may be and still be remembered.
    public let horizon: Int
    /// Recent ids with no version to expire by (digests of refused bytes).
    public private(set) var refusals: RecentIDs
    /// Ids by the version they expire with.
    private var buckets: [ModelVersion: [UpdateID]] = [:]
    /// The versioned ids, each with its message's checksum (0: not known).
    private var versioned: [UpdateID: UInt32] = [:]
    /// Buckets below this are dropped.
    private var floor: ModelVersion = 0

    /// - Parameters:
    ///   - stalenessHorizon: the workers' `StalenessPolicy.horizon`.
    ///   - refusalWindow: how many digest-booked refusals to remember.
    public init(stalenessHorizon: Int, refusalWindow: Int = 1 << 16) {
        horizon = max(0, stalenessHorizon) + Self.workerLag
        refusals = RecentIDs(capacity: refusalWindow)
    }

    /// Ids remembered by version (not counting `refusals`).
    public var versionedCount: Int { versioned.count }

    public func contains(_ id: UpdateID) -> Bool { versioned[id] != nil || refusals.contains(id) }

    /// The checksum of the message settled under `id`: nil when `id` is not settled, 0
    /// when its checksum is not known (a digest-booked refusal, an older worker's entry).
    public func checksum(of id: UpdateID) -> UInt32? {
        if let checksum = versioned[id] { return checksum }
        return refusals.contains(id) ? 0 : nil
    }

    /// Whether an update of `base` is too old for this index to tell if it was counted
    /// before: a partial holding one is refused whole as stale.
    public func isBeyondHorizon(base: ModelVersion) -> Bool { base < floor }

    /// Remembers `id`, judged as an update of base version `base` (nil: a digest), while
    /// the model is at `current`. A base claimed from the future expires as if it were `current`.
    public mutating func insert(_ id: UpdateID, base: ModelVersion?, current: ModelVersion, checksum: UInt32 = 0) {
        guard let base else {
            refusals.insert(id)
            return
        }
        let key = min(base, current)
        guard key >= floor else {
            refusals.insert(id)
            return
        }
        guard versioned[id] == nil else { return }
        versioned[id] = checksum
        buckets[key, default: []].append(id)
    }

    /// Forgets the ids whose base versions fell more than `horizon` behind `current`.
    public mutating func advance(to current: ModelVersion) {
        let newFloor = current > ModelVersion(horizon) ? current - ModelVersion(horizon) : 0
        guard newFloor > floor else { return }
        // Buckets are dense near the model's version; walking the few versions the floor
        // moved is cheaper than scanning every bucket.
        if newFloor - floor <= ModelVersion(buckets.count) {
            for version in floor..<newFloor { drop(version) }
        } else {
            for version in buckets.keys where version < newFloor { drop(version) }
        }
        floor = newFloor
    }

    private mutating func drop(_ version: ModelVersion) {
        guard let ids = buckets.removeValue(forKey: version) else { return }
        for id in ids { versioned[id] = nil }
    }

    /// (id, expiry version, checksum) triples, for the checkpoint.
    public var versionedEntries: [(id: UpdateID, base: ModelVersion, checksum: UInt32)] {
        buckets.keys.sorted().flatMap { version in
            buckets[version, default: []].map { (id: $0, base: version, checksum: versioned[$0] ?? 0) }
        }
    }

    /// Rebuilds an index from a checkpoint's entries.
    public init(
        stalenessHorizon: Int, refusals: RecentIDs, versioned entries: [(id: UpdateID, base: ModelVersion, checksum: UInt32)],
        current: ModelVersion
    ) {
        self.init(stalenessHorizon: stalenessHorizon, refusalWindow: refusals.capacity)
        self.refusals = refusals
        for entry in entries { insert(entry.id, base: entry.base, current: current, checksum: entry.checksum) }
        advance(to: current)
    }

    public static func == (lhs: SettledIndex, rhs: SettledIndex) -> Bool {
        lhs.horizon == rhs.horizon && lhs.refusals == rhs.refusals && lhs.versioned == rhs.versioned && lhs.floor == rhs.floor
    }
}
