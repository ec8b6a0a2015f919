import Aggregation

/// Local differential privacy on the client (issue 17, item 4): what a client publishes is
/// (ε, δ)-DP with respect to its own data *whoever reads it*: the broker, its operator, a
/// compromised worker or coordinator. Central DP (`DifferentialPrivacy`) trusts those; this
/// does not, and pays for it with far more noise (docs/privacy.md, "Local differential
/// privacy"). Two units of protection (`Unit`):
///
/// - **`.update`** (user level): before its update leaves, a client clips its delta to L2
///   norm `clipNorm` and adds Gaussian noise of standard deviation `noiseMultiplier ×
///   clipNorm` to every parameter. Neighbours are any two datasets of the client
///   (replace-one), so two clipped deltas differ by up to 2C and each release is a Gaussian
///   mechanism of sensitivity 2C: its noise multiplier, in sensitivity units, is σ/2, at
///   sampling rate 1 (a client knows when it takes part: no amplification).
/// - **`.record`** (record level, DP-SGD; Abadi et al. 2016): the client trains with
///   per-example gradients clipped to `clipNorm`, Poisson-sampled batches of expected size B
///   (rate q = B / its records) and noise σ·C on each step's sum. Neighbours differ by one
///   record (add/remove, Opacus's convention), so each step is a subsampled Gaussian of
///   multiplier σ at rate q, and an update of E epochs costs ⌈E / q⌉ such steps. It protects
///   each patient of a hospital rather than the hospital's whole dataset, and sampling
///   amplifies it: far less noise for the same ε. By default the rate, and with it the
///   steps an update takes, derive from the client's row count, which is then public, as in
///   Opacus. A fixed `samplingRate` (`--ldp-sampling-rate`) for every client keeps the row
///   count inside the guarantee instead: the steps are ⌈E / q⌉ whatever the rows, and each
///   step's sum is divided by B rather than by q·n.
///
/// Either way, steps compose in Rényi DP (`RDPAccountant`) in the client's own books.
public struct LocalDifferentialPrivacy: Sendable, Equatable {
    /// What one client's guarantee covers.
    public enum Unit: String, Sendable, CaseIterable {
        /// The client's whole dataset: its update is clipped and noised (user-level DP).
        case update
        /// Each of the client's records: it trains with DP-SGD (record-level DP).
        case record
    }

    public var unit: Unit
    /// C: the L2 norm the client clips its delta to (`.update`), or each example's gradient
    /// to (`.record`).
    public var clipNorm: Double
    /// σ: the noise's standard deviation in units of C, per parameter (per update for
    /// `.update`, per step's gradient sum for `.record`).
    public var noiseMultiplier: Double
    /// δ of each client's (ε, δ).
    public var delta: Double
    /// A client publishes nothing more once another release would take its ε beyond this
    /// (nil: ε is only reported).
    public var targetEpsilon: Double?
    /// `.record` only: one Poisson sampling rate for every client (nil: B / its rows). With it
    /// nothing the client's settings make it do or say depends on how many rows it holds.
    public var samplingRate: Double?

    /// 1e-5: the central default's ceiling. Here it is per client, over its own data.
    public static let defaultDelta = 1e-5

    /// - Throws: `DifferentialPrivacyError` naming the option at fault.
    public init(
        clipNorm: Double, noiseMultiplier: Double, delta: Double? = nil, targetEpsilon: Double? = nil, unit: Unit = .update,
        samplingRate: Double? = nil
    ) throws(DifferentialPrivacyError) {
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
        if let samplingRate {
            guard unit == .record else {
                throw .invalid(option: "--ldp-sampling-rate", "applies to --ldp-unit record only (an update is released whole)")
            }
            guard samplingRate > 0, samplingRate <= 1 else {
                throw .invalid(option: "--ldp-sampling-rate", "must be in (0, 1], got \(samplingRate)")
            }
        }
        self.unit = unit
        self.samplingRate = samplingRate
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
        self.targetEpsilon = targetEpsilon
    }

    /// The noise's standard deviation per parameter: σ·C.
    public var noiseStandardDeviation: Double { noiseMultiplier * clipNorm }

    /// What one update costs a client: `steps` applications of one Gaussian mechanism.
    public struct Release: Sendable, Hashable {
        public var mechanism: LocalPrivacySpend.Mechanism
        public var steps: Int
    }

    /// The update unit's release: one Gaussian step at rate 1 whose multiplier, in units of
    /// the sensitivity 2C, is σ/2. The one place that says so.
    public var updateRelease: Release {
        Release(mechanism: .init(noiseMultiplier: noiseMultiplier / 2, samplingRate: 1), steps: 1)
    }

    /// The release the functions below take when given none: the update unit's. Per record
    /// there is no such default (an update's cost depends on the client's rows), and asking
    /// for one is a programming error, not a figure to print.
    private var defaultRelease: Release {
        precondition(unit == .update, "per record, pass the client's release(records:batchSize:epochs:)")
        return updateRelease
    }

    /// What one update of a client with `records` rows costs under these settings, training
    /// `epochs` epochs in batches of (expected) size `batchSize`. `.record`: q = B / records
    /// (1 when the client has no more than B), or the fixed `samplingRate`, and ⌈epochs / q⌉
    /// steps, the whole epochs in expectation. Without a fixed rate the record count is the
    /// client's own and, as in Opacus, public to it.
    public func release(records: Int, batchSize: Int, epochs: Int) -> Release {
        switch unit {
        case .update:
            return updateRelease
        case .record:
            let rate = recordSamplingRate(records: records, batchSize: batchSize)
            let steps = max(1, Int((Double(epochs) / rate).rounded(.up)))
            return Release(mechanism: .init(noiseMultiplier: noiseMultiplier, samplingRate: rate), steps: steps)
        }
    }

    /// DP-SGD's Poisson rate for a client of `records` rows: the fixed `samplingRate`, or
    /// B / records (1 when the client has no more than B).
    private func recordSamplingRate(records: Int, batchSize: Int) -> Double {
        samplingRate ?? min(1, Double(batchSize) / Double(max(records, 1)))
    }

    /// What a DP-SGD step's noisy sum is divided by: the expected batch q·n when the rate
    /// derives from the rows (which are public then), B under a fixed `samplingRate`, where
    /// dividing by q·n would scale the update by the row count the guarantee hides.
    public func stepDivisor(records: Int, batchSize: Int) -> Double {
        guard samplingRate == nil else { return Double(batchSize) }
        return recordSamplingRate(records: records, batchSize: batchSize) * Double(records)
    }

    /// ε after `releases` updates of one client (each `release`, by default the update
    /// unit's), at `delta`.
    public func epsilon(releases: Int, each release: Release? = nil) -> Double {
        let release = release ?? defaultRelease
        var spend = LocalPrivacySpend()
        spend.record(release, times: releases)
        return spend.epsilon(delta: delta)
    }

    /// How many updates (each `release`, by default the update unit's) one client may
    /// publish within `targetEpsilon` (nil without one). ε grows with every release, so
    /// this is the last count whose ε fits.
    public func releasesWithinTarget(each release: Release? = nil) -> Int? {
        guard let targetEpsilon else { return nil }
        // ε(n) is increasing: double, then bisect. One release beyond 2^20 is no budget a
        // person would set, and it bounds the search.
        func fits(_ count: Int) -> Bool { epsilon(releases: count, each: release) <= targetEpsilon }
        guard fits(1) else { return 0 }
        var (fitting, exceeding) = (1, 2)
        while exceeding < 1 << 20, fits(exceeding) { (fitting, exceeding) = (exceeding, exceeding * 2) }
        while exceeding - fitting > 1 {
            let middle = (fitting + exceeding) / 2
            if fits(middle) { fitting = middle } else { exceeding = middle }
        }
        return fitting
    }

    /// The update unit's `releasesWithinTarget(each:)`.
    public var releasesWithinTarget: Int? { releasesWithinTarget(each: nil) }

    /// What a client process says at start: the settings, and what they allow a client
    /// whose update costs `release` (for `.record`, the process's smallest client: the
    /// fewest records pay the most per update).
    public func summaryLine(each release: Release? = nil) -> String {
        let release = release ?? defaultRelease
        let single = epsilon(releases: 1, each: release)
        let who = unit == .update || samplingRate != nil ? "each client" : "the client with the fewest records"
        let budget = targetEpsilon.map { target in
            let releases = releasesWithinTarget(each: release) ?? 0
            return releases == 0
                ? "; not one update fits in the target ε = \(Self.short(target)): \(who) will publish nothing"
                : "; \(who) may publish \(releases) updates within its target ε = \(Self.short(target))"
        } ?? "; no target ε: the clients publish without limit"
        let what = switch unit {
        case .update: "local differential privacy per update: clip \(Self.short(clipNorm)), noise multiplier \(Self.short(noiseMultiplier)), one update costs a client"
        case .record where samplingRate != nil:
            "local differential privacy per record (DP-SGD): clip \(Self.short(clipNorm)) per example, noise multiplier \(Self.short(noiseMultiplier)), "
                + "sampling rate \(Self.short(release.mechanism.samplingRate)) for every client (row counts stay private), one update (\(release.steps) steps) costs each client"
        case .record:
            "local differential privacy per record (DP-SGD): clip \(Self.short(clipNorm)) per example, noise multiplier \(Self.short(noiseMultiplier)), "
                + "sampling rate up to \(Self.short(release.mechanism.samplingRate)), one update (\(release.steps) steps) costs the client with the fewest records"
        }
        return what + " ε = \(Self.short(single)) at δ = \(delta)" + budget
    }

    private static func short(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String((value * 1000).rounded() / 1000)
    }

    /// `.update`: clips `delta` to `clipNorm` and adds the noise, in place; `generator` draws it (the
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

/// One client's spent local budget: how many Gaussian steps it took under each mechanism
/// (multiplier and sampling rate), and how many updates it released. Counts, not RDP
/// curves, so a fleet of thousands of clients keeps its books in a small file
/// (`LocalPrivacyBooks` in Roles) and the ε is recomputed from them.
public struct LocalPrivacySpend: Sendable, Codable, Equatable {
    /// A Gaussian mechanism as the accountant sees it: its noise multiplier in units of the
    /// sensitivity, at a Poisson sampling rate.
    public struct Mechanism: Sendable, Hashable, Comparable {
        public var noiseMultiplier: Double
        public var samplingRate: Double

        public init(noiseMultiplier: Double, samplingRate: Double) {
            self.noiseMultiplier = noiseMultiplier
            self.samplingRate = samplingRate
        }

        public static func < (a: Self, b: Self) -> Bool {
            (a.noiseMultiplier, a.samplingRate) < (b.noiseMultiplier, b.samplingRate)
        }
    }

    /// Steps per mechanism (a client restarted with other settings keeps both).
    public private(set) var steps: [Mechanism: Int] = [:]
    /// Updates released in all.
    public private(set) var total = 0
    /// Set by the books once this client's next update would not fit its target: it is retired.
    public var exhausted = false

    public init() {}

    /// Books `times` updates, each costing `release`.
    public mutating func record(_ release: LocalDifferentialPrivacy.Release, times: Int = 1) {
        guard times > 0 else { return }
        steps[release.mechanism, default: 0] += release.steps * times
        total += times
    }

    /// ε of everything released so far, at `delta`.
    public func epsilon(delta: Double) -> Double {
        epsilon(delta: delta, adding: nil)
    }

    /// ε of everything released so far, with `settings`' δ.
    public func epsilon(under settings: LocalDifferentialPrivacy) -> Double {
        epsilon(delta: settings.delta, adding: nil)
    }

    /// Whether one more `release` keeps ε within `settings`' target.
    public func permits(_ release: LocalDifferentialPrivacy.Release, under settings: LocalDifferentialPrivacy) -> Bool {
        guard let target = settings.targetEpsilon else { return true }
        return epsilon(delta: settings.delta, adding: release) <= target
    }

    private func epsilon(delta: Double, adding extra: LocalDifferentialPrivacy.Release?) -> Double {
        var counts = steps
        if let extra { counts[extra.mechanism, default: 0] += extra.steps }
        guard !counts.isEmpty else { return 0 }
        var accountant = RDPAccountant()
        for (mechanism, count) in counts.sorted(by: { $0.key < $1.key }) {
            accountant.record(samplingRate: mechanism.samplingRate, noiseMultiplier: mechanism.noiseMultiplier, steps: count)
        }
        return accountant.epsilon(delta: delta).epsilon
    }

    // MARK: The books file's form

    /// `{"releases": n, "exhausted": b, "steps": [{"noise_multiplier": σ', "sampling_rate": q,
    /// "steps": k}, …]}`, σ' in units of the sensitivity (JSON has no structured keys). The
    /// first form (2026-12-07, update unit only), `[{"noise_multiplier": σ, "releases": n}]`
    /// with σ in units of C, is still read.
    private struct Entry: Codable {
        var noiseMultiplier: Double
        var samplingRate: Double
        var steps: Int
        enum CodingKeys: String, CodingKey { case noiseMultiplier = "noise_multiplier", samplingRate = "sampling_rate", steps }
    }

    private struct FirstFormEntry: Decodable {
        var noiseMultiplier: Double
        var releases: Int
        enum CodingKeys: String, CodingKey { case noiseMultiplier = "noise_multiplier", releases }
    }

    private enum CodingKeys: String, CodingKey { case releases, exhausted, steps }

    public init(from decoder: any Decoder) throws {
        func corrupt(_ what: String) -> DecodingError {
            .dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: what))
        }
        if let first = try? decoder.singleValueContainer().decode([FirstFormEntry].self) {
            for entry in first {
                guard entry.noiseMultiplier > 0, entry.noiseMultiplier.isFinite, entry.releases >= 0 else {
                    throw corrupt("a noise multiplier must be positive and a release count not negative")
                }
                steps[Mechanism(noiseMultiplier: entry.noiseMultiplier / 2, samplingRate: 1), default: 0] += entry.releases
                total += entry.releases
            }
            steps = steps.filter { $0.value > 0 }
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        total = try container.decode(Int.self, forKey: .releases)
        exhausted = try container.decodeIfPresent(Bool.self, forKey: .exhausted) ?? false
        guard total >= 0 else { throw corrupt("a release count must not be negative") }
        for entry in try container.decode([Entry].self, forKey: .steps) {
            guard entry.noiseMultiplier > 0, entry.noiseMultiplier.isFinite, entry.samplingRate > 0, entry.samplingRate <= 1,
                  entry.steps >= 0 else {
                throw corrupt("a noise multiplier must be positive, a sampling rate in (0, 1] and a step count not negative")
            }
            steps[Mechanism(noiseMultiplier: entry.noiseMultiplier, samplingRate: entry.samplingRate), default: 0] += entry.steps
        }
        steps = steps.filter { $0.value > 0 }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(total, forKey: .releases)
        try container.encode(exhausted, forKey: .exhausted)
        try container.encode(
            steps.sorted { $0.key < $1.key }.map {
                Entry(noiseMultiplier: $0.key.noiseMultiplier, samplingRate: $0.key.samplingRate, steps: $0.value)
            }, forKey: .steps)
    }
}
