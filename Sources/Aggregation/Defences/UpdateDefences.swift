/// What a worker does to every update before it joins a partial, so that no well-formed
/// update can steer the model (issue 16): bounds that compose with sums, applied one update
/// at a time where updates are still apart. `DefenceState` keeps what they learn as a run
/// goes (recent norms, sample counts, each client's updates this version).
///
/// Everything here is on by default; `UpdateDefences.off` is what the attack benchmark
/// compares against.
public struct UpdateDefences: Sendable, Equatable, CustomStringConvertible {
    /// How each update's L2 norm is bounded (clipped).
    public var norm: NormBound
    /// An update claiming more training samples than this is refused `out-of-bounds`: no
    /// client of a federation trains on more, and a claimed 2^63 must not become a weight.
    public var maxSamples: UInt64
    /// With `--weigh-by-samples`: no update weighs more than this many times the median
    /// sample count of recent updates, so one client claiming a huge dataset cannot hold
    /// most of an aggregate's mass. Nil: only `maxSamples` bounds it.
    public var sampleShare: Double?
    /// At most this many updates of one client are taken per model version (by each
    /// worker); the rest are refused `rate-limited`. Nil: no limit.
    public var updatesPerClientVersion: Int?

    public init(
        norm: NormBound = .default, maxSamples: UInt64 = UpdateDefences.defaultMaxSamples, sampleShare: Double? = 4,
        updatesPerClientVersion: Int? = 4
    ) {
        self.norm = norm
        self.maxSamples = maxSamples
        self.sampleShare = sampleShare
        self.updatesPerClientVersion = updatesPerClientVersion
    }

    /// 2^24 samples: far above any one site's data in the federations FedQueue is for,
    /// far below where a Float weight loses integer precision.
    public static let defaultMaxSamples: UInt64 = 1 << 24

    public static let `default` = UpdateDefences()

    /// Every defence off (the attack benchmark's baseline; non-finite values are still refused).
    public static let off = UpdateDefences(norm: .off, maxSamples: .max, sampleShare: nil, updatesPerClientVersion: nil)

    public var description: String {
        "clip \(norm), max samples \(maxSamples), sample share \(sampleShare.map { $0.formatted } ?? "off"), "
            + "per client per version \(updatesPerClientVersion.map(String.init) ?? "off")"
    }
}

/// What `UpdateDefences` learn during a run, per worker.
public struct DefenceState: Sendable {
    public let defences: UpdateDefences
    private var norms = RunningMedian()
    private var samples = RunningMedian()
    private var limiter: ClientRateLimit?

    public init(_ defences: UpdateDefences) {
        self.defences = defences
        limiter = defences.updatesPerClientVersion.map(ClientRateLimit.init(perVersion:))
    }

    /// Whether an adaptive bound has seen enough norms to judge one update alone.
    public var isWarm: Bool {
        guard case .adaptive = defences.norm else { return true }
        return norms.count >= NormBound.warmUpNorms
    }

    /// Remembers an accepted update's norm (before clipping: the bound follows what
    /// clients send, and the lower median resists up to half of them being hostile).
    public mutating func record(norm: Double) {
        if case .adaptive = defences.norm { norms.record(norm) }
    }

    /// The L2 bound now (nil: none).
    public var normLimit: Double? {
        switch defences.norm {
        case .off: nil
        case .fixed(let bound): bound
        case .adaptive(let multiplier): norms.median.map { max($0, .leastNormalMagnitude) * multiplier }
        }
    }

    /// Why a claimed sample count is refused (nil: it is within `maxSamples`).
    public func refusal(samples: UInt64) -> String? {
        samples > defences.maxSamples ? "samples-over-max: \(samples) > \(defences.maxSamples)" : nil
    }

    /// The sample count an update weighs with: its claim, capped at `sampleShare` × the
    /// recent median once there is one; the claim is remembered either way.
    public mutating func weighedSamples(claimed: UInt64) -> Int {
        let claim = Double(min(claimed, defences.maxSamples))
        defer { samples.record(claim) }
        guard let share = defences.sampleShare, let median = samples.median, samples.count >= NormBound.warmUpNorms else {
            return Self.integer(claim)
        }
        return Self.integer(min(claim, max(1, median) * share))
    }

    /// `value` as an Int, clamped: a claim of 2^64 − 1 samples must not trap (issue 16).
    private static func integer(_ value: Double) -> Int {
        value >= Double(Int.max) ? Int.max : Int(value)
    }

    /// Takes one update of `client` at the worker's current `version` against the rate
    /// limit; false when the client already had its share of this version.
    public mutating func admit(client: UInt64, version: ModelVersion) -> Bool {
        limiter?.admit(client: client, version: version) ?? true
    }

    /// Records that `client` had an update from base version `base` admitted at the
    /// limiter's current version; true when it had one from that base already (false
    /// without a limit). An honest client trains once per version it receives, so its
    /// updates' bases differ; a second from one base is a flood's.
    public mutating func repeats(client: UInt64, base: ModelVersion) -> Bool {
        limiter?.repeats(client: client, base: base) ?? false
    }
}

/// At most `perVersion` updates per client while the model stays at one version. Reset as
/// the version moves, so it holds one counter per client active in this version.
public struct ClientRateLimit: Sendable, Equatable {
    public let perVersion: Int
    private var version: ModelVersion = 0
    private var counts: [UInt64: Int] = [:]
    /// The base versions each client's admitted updates came from, at this version.
    private var bases: Set<ClientBase> = []

    private struct ClientBase: Hashable, Sendable {
        var client: UInt64
        var base: ModelVersion
    }

    public init(perVersion: Int) {
        precondition(perVersion > 0, "a client must be allowed at least one update per version")
        self.perVersion = perVersion
    }

    public mutating func admit(client: UInt64, version: ModelVersion) -> Bool {
        if version != self.version {
            self.version = version
            counts.removeAll(keepingCapacity: true)
            bases.removeAll(keepingCapacity: true)
        }
        let taken = counts[client, default: 0]
        guard taken < perVersion else { return false }
        counts[client] = taken + 1
        return true
    }

    /// Records an admitted update of `client` from `base` at the current version; true when
    /// one from that base was admitted before.
    public mutating func repeats(client: UInt64, base: ModelVersion) -> Bool {
        !bases.insert(ClientBase(client: client, base: base)).inserted
    }
}
