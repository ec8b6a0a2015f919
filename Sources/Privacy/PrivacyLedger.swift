/// The settings and the spent budget together: what the coordinator asks before it applies
/// an aggregate, and what it records after. Its state goes into the coordinator's checkpoint.
public struct PrivacyLedger: Sendable, Codable, Equatable {
    public let settings: DifferentialPrivacy
    public private(set) var accountant: RDPAccountant
    /// The sampling rate of the last recorded aggregate (nil before the first).
    public private(set) var lastSamplingRate: Double?

    public init(settings: DifferentialPrivacy, accountant: RDPAccountant = RDPAccountant()) {
        self.settings = settings
        self.accountant = accountant
    }

    /// ε spent so far at the settings' δ.
    public var epsilon: Double { accountant.epsilon(delta: settings.delta).epsilon }

    /// Whether applying an aggregate of `updates` updates, at most `largestClientShare` of
    /// them from one client, keeps ε within the target. Checked *before* the aggregate is
    /// applied: an aggregate that would overspend is never released, so the reported ε never
    /// exceeds the target.
    public func permits(updates: Int, largestClientShare: Int) -> Bool {
        guard let target = settings.targetEpsilon else { return true }
        return accountant.epsilon(
            delta: settings.delta, afterRecording: settings.samplingRate(updates: updates),
            noiseMultiplier: noiseMultiplier(largestClientShare: largestClientShare)) <= target
    }

    /// Records one applied aggregate of `updates` updates, at most `largestClientShare` of
    /// them from one client.
    public mutating func record(updates: Int, largestClientShare: Int) {
        let q = settings.samplingRate(updates: updates)
        accountant.record(samplingRate: q, noiseMultiplier: noiseMultiplier(largestClientShare: largestClientShare))
        lastSamplingRate = q
    }

    /// The noise multiplier an aggregate holding m updates of one client gives that client:
    /// σ/m. Each of its updates is clipped to C (and weighted at most 1), so together they
    /// move the sum by up to m·C, against noise of σ·C: the Gaussian mechanism at σ/m for
    /// sensitivity C. The aggregate is charged for its most repeated client, so ε bounds
    /// every client's loss, not only those that sent one update (docs/privacy.md, "One
    /// update per client per aggregate"). m below 1 (no client named) counts as 1.
    public func noiseMultiplier(largestClientShare m: Int) -> Double {
        settings.noiseMultiplier / Double(max(1, m))
    }

    /// Adds the aggregate's noise to a sum of clipped updates (system CSPRNG).
    public func perturb(_ sum: inout [Float]) {
        GaussianNoise.add(standardDeviation: settings.noiseStandardDeviation, to: &sum)
    }
}
