import Aggregation

/// Local differential privacy on the client (issue 17, item 4): before its update leaves the
/// device, a client clips its delta to L2 norm `clipNorm` and adds Gaussian noise of standard
/// deviation `noiseMultiplier × clipNorm` to every parameter. What it publishes is then
/// (ε, δ)-DP with respect to *everything* it trained on, whoever reads it: the broker, its
/// operator, a compromised worker or coordinator. Central DP (`DifferentialPrivacy`) trusts
/// those; this does not, and pays for it with far more noise (every update carries its own,
/// instead of one draw per aggregate; docs/privacy.md, "Local differential privacy").
///
/// **Neighbours are any two datasets of the client** (replace-one, the usual local
/// definition), so two clipped deltas differ by up to 2C in L2 and each release is a
/// Gaussian mechanism of sensitivity 2C: its noise multiplier, in sensitivity units, is σ/2.
/// Each release is accounted at sampling rate 1 (a client knows when it takes part, so there
/// is no amplification by sampling), and releases compose in Rényi DP (`RDPAccountant`).
public struct LocalDifferentialPrivacy: Sendable, Equatable {
    /// C: the L2 norm the client clips its delta to.
    public var clipNorm: Double
    /// σ: the noise's standard deviation in units of C, per parameter.
    public var noiseMultiplier: Double
    /// δ of each client's (ε, δ).
    public var delta: Double
    /// A client publishes nothing more once another release would take its ε beyond this
    /// (nil: ε is only reported).
    public var targetEpsilon: Double?

    /// 1e-5: the central default's ceiling. Here it is per client, over its own data.
    public static let defaultDelta = 1e-5

    /// - Throws: `DifferentialPrivacyError` naming the option at fault.
    public init(clipNorm: Double, noiseMultiplier: Double, delta: Double? = nil, targetEpsilon: Double? = nil) throws(DifferentialPrivacyError) {
        guard clipNorm > 0, clipNorm.isFinite else { throw .invalid(option: "--ldp-clip", "must be a positive number, got \(clipNorm)") }
        // Unlike the central noise, zero is refused: a clipped delta without noise is the
        // client's data in the clear, and its ε would be infinite from the first release.
        guard noiseMultiplier > 0, noiseMultiplier.isFinite else {
            throw .invalid(option: "--ldp-noise-multiplier", "must be a positive number, got \(noiseMultiplier)")
        }
        let delta = delta ?? Self.defaultDelta
        guard delta > 0, delta < 1 else { throw .invalid(option: "--ldp-delta", "must be in (0, 1), got \(delta)") }
        if let targetEpsilon, !(targetEpsilon > 0 && targetEpsilon.isFinite) {
            throw .invalid(option: "--ldp-target-epsilon", "must be a positive number, got \(targetEpsilon)")
        }
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
        self.targetEpsilon = targetEpsilon
    }

    /// The noise's standard deviation per parameter: σ·C.
    public var noiseStandardDeviation: Double { noiseMultiplier * clipNorm }

    /// The noise multiplier the accountant sees for local noise σ·C: in units of the
    /// sensitivity, 2C, it is σ/2. The one place that says so.
    static func accountedNoiseMultiplier(_ sigma: Double) -> Double { sigma / 2 }

    /// ε after `releases` updates of one client under these settings, at `delta`.
    public func epsilon(releases: Int) -> Double {
        LocalPrivacySpend(releases: [noiseMultiplier: releases]).epsilon(under: self)
    }

    /// How many updates one client may publish within `targetEpsilon` (nil without one).
    /// ε grows with every release, so this is the last count whose ε fits.
    public var releasesWithinTarget: Int? {
        guard let targetEpsilon else { return nil }
        // ε(n) is increasing: double, then bisect. One release beyond 2^20 is no budget a
        // person would set, and it bounds the search.
        guard epsilon(releases: 1) <= targetEpsilon else { return 0 }
        var (fits, exceeds) = (1, 2)
        while exceeds < 1 << 20, epsilon(releases: exceeds) <= targetEpsilon { (fits, exceeds) = (exceeds, exceeds * 2) }
        while exceeds - fits > 1 {
            let middle = (fits + exceeds) / 2
            if epsilon(releases: middle) <= targetEpsilon { fits = middle } else { exceeds = middle }
        }
        return fits
    }

    /// What a client process says at start: the settings, and what they allow.
    public var summaryLine: String {
        let single = epsilon(releases: 1)
        let budget = targetEpsilon.map { target in
            let releases = releasesWithinTarget ?? 0
            return releases == 0
                ? "; not one update fits in the target ε = \(Self.short(target)): the clients will publish nothing"
                : "; each client may publish \(releases) updates within its target ε = \(Self.short(target))"
        } ?? "; no target ε: the clients publish without limit"
        return "local differential privacy: clip \(Self.short(clipNorm)), noise multiplier \(Self.short(noiseMultiplier)), "
            + "one update costs a client ε = \(Self.short(single)) at δ = \(delta)" + budget
    }

    private static func short(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String((value * 1000).rounded() / 1000)
    }

    /// Clips `delta` to `clipNorm` and adds the noise, in place; `generator` draws it (the
    /// system CSPRNG in production: `privatize(_:)`).
    /// - Returns: the delta's norm before clipping.
    @discardableResult
    public func privatize(_ delta: inout [Float], using generator: inout some RandomNumberGenerator) -> Double {
        let norm = delta.clip(toNorm: clipNorm)
        GaussianNoise.add(standardDeviation: noiseStandardDeviation, to: &delta, using: &generator)
        return norm
    }

    /// `privatize` with the kernel's CSPRNG: noise a seed could regenerate could be subtracted.
    @discardableResult
    public func privatize(_ delta: inout [Float]) -> Double {
        var generator = BulkSystemRandom()
        return privatize(&delta, using: &generator)
    }
}

/// One client's spent local budget: how many updates it released under each noise
/// multiplier. Counts, not RDP curves, so a fleet of thousands of clients keeps its books
/// in a small file (`LocalPrivacyBooks` in Roles) and the ε is recomputed from them.
public struct LocalPrivacySpend: Sendable, Codable, Equatable {
    /// Releases per noise multiplier σ (a client restarted with another σ keeps both).
    public private(set) var releases: [Double: Int] = [:]

    public init() {}

    init(releases: [Double: Int]) {
        self.releases = releases.filter { $0.value > 0 }
    }

    /// Written as `[{"noise_multiplier": σ, "releases": n}, …]`: JSON has no number keys.
    private struct Entry: Codable {
        var noiseMultiplier: Double
        var releases: Int
        enum CodingKeys: String, CodingKey { case noiseMultiplier = "noise_multiplier", releases }
    }

    public init(from decoder: any Decoder) throws {
        let entries = try decoder.singleValueContainer().decode([Entry].self)
        for entry in entries {
            guard entry.noiseMultiplier > 0, entry.noiseMultiplier.isFinite, entry.releases >= 0 else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a noise multiplier must be positive and a release count not negative"))
            }
            releases[entry.noiseMultiplier, default: 0] += entry.releases
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(releases.sorted { $0.key < $1.key }.map { Entry(noiseMultiplier: $0.key, releases: $0.value) })
    }

    /// Updates released in all.
    public var total: Int { releases.values.reduce(0, +) }

    public mutating func record(noiseMultiplier: Double) {
        releases[noiseMultiplier, default: 0] += 1
    }

    /// ε of everything released so far, with `settings`' δ.
    public func epsilon(under settings: LocalDifferentialPrivacy) -> Double {
        epsilon(delta: settings.delta, adding: nil)
    }

    /// Whether one more release under `settings` keeps ε within its target.
    public func permitsRelease(under settings: LocalDifferentialPrivacy) -> Bool {
        guard let target = settings.targetEpsilon else { return true }
        return epsilon(delta: settings.delta, adding: settings.noiseMultiplier) <= target
    }

    private func epsilon(delta: Double, adding extra: Double?) -> Double {
        var accountant = RDPAccountant()
        var counts = releases
        if let extra { counts[extra, default: 0] += 1 }
        guard !counts.isEmpty else { return 0 }
        for (sigma, count) in counts.sorted(by: { $0.key < $1.key }) {
            accountant.record(samplingRate: 1, noiseMultiplier: LocalDifferentialPrivacy.accountedNoiseMultiplier(sigma), steps: count)
        }
        return accountant.epsilon(delta: delta).epsilon
    }
}
