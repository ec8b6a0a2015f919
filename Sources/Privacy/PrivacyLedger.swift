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

    /// Whether applying an aggregate of `updates` updates keeps ε within the target.
    /// Checked *before* the aggregate is applied: an aggregate that would overspend is
    /// never released, so the reported ε never exceeds the target.
    public func permits(updates: Int) -> Bool {
        guard let target = settings.targetEpsilon else { return true }
        return accountant.epsilon(
            delta: settings.delta, afterRecording: settings.samplingRate(updates: updates),
            noiseMultiplier: settings.noiseMultiplier) <= target
    }

    /// Records one applied aggregate of `updates` updates.
    public mutating func record(updates: Int) {
        let q = settings.samplingRate(updates: updates)
        accountant.record(samplingRate: q, noiseMultiplier: settings.noiseMultiplier)
        lastSamplingRate = q
    }

    /// Adds the aggregate's noise to a sum of clipped updates (system CSPRNG).
    public func perturb(_ sum: inout [Float]) {
        GaussianNoise.add(standardDeviation: settings.noiseStandardDeviation, to: &sum)
    }
}
