/// User-level central differential privacy, DP-FedAvg / DP-FedBuff style (McMahan et al.
/// 2018; Huba et al. 2022): every client update is clipped to L2 norm `clipNorm` before it
/// enters a partial sum (by the workers: the coordinator never sees an unclipped update),
/// and the coordinator adds Gaussian noise of standard deviation `noiseMultiplier ×
/// clipNorm` to each buffered sum before it is applied. One client changes a sum by at
/// most `clipNorm` (staleness weights are at most 1), so the noise hides any one client's
/// participation in an aggregate; `RDPAccountant` adds up what the applied aggregates spent.
public struct DifferentialPrivacy: Sendable, Codable, Equatable {
    /// C: the L2 norm every update is clipped to.
    public var clipNorm: Double
    /// σ: noise standard deviation in units of C.
    public var noiseMultiplier: Double
    /// δ of the reported (ε, δ).
    public var delta: Double
    /// Refuse to apply an aggregate that would take ε beyond this (nil: report only).
    public var targetEpsilon: Double?
    /// Clients in the federation: the sampling rate of an aggregate of n updates is n / population.
    public var population: Int
    /// With a target ε: when the budget is spent (or a simulation stops short of it,
    /// `CoordinatorStateMachine.releaseFinalAverage`), the coordinator releases as its last version
    /// an exponential moving average of the versions with this decay (`IterateAverage`), and
    /// applies nothing after it; nil releases nothing more (the last noisy iterate stays the
    /// final model). Post-processing of released versions: it costs no ε.
    public var finalAverageDecay: Double?

    /// 0.9, about the last ten versions: in three batches of 30 runs of 20 WDBC hospitals at
    /// ε = 8 it raised the median final accuracy from 88.1-90.7% to 92.0-92.9% and cut the runs
    /// under 85% from 7-11 to 0-3 a batch; 0.95 collapsed more often, 0.8 gained less
    /// (BENCHMARKS.md, "The versions' average at the end of the budget").
    public static let defaultFinalAverageDecay = 0.9

    /// - Throws: `DifferentialPrivacyError` naming the option at fault.
    public init(
        clipNorm: Double, noiseMultiplier: Double, delta: Double? = nil, targetEpsilon: Double? = nil, population: Int,
        finalAverageDecay: Double? = defaultFinalAverageDecay
    ) throws(DifferentialPrivacyError) {
        guard clipNorm > 0, clipNorm.isFinite else { throw .invalid(option: "--dp-clip", "must be a positive number, got \(clipNorm)") }
        guard noiseMultiplier >= 0, noiseMultiplier.isFinite else {
            throw .invalid(option: "--dp-noise-multiplier", "must be zero or more, got \(noiseMultiplier)")
        }
        guard population > 0 else { throw .invalid(option: "--dp-population", "must be positive, got \(population)") }
        let delta = delta ?? Self.defaultDelta(population: population)
        guard delta > 0, delta < 1 else { throw .invalid(option: "--dp-delta", "must be in (0, 1), got \(delta)") }
        if let targetEpsilon, !(targetEpsilon > 0 && targetEpsilon.isFinite) {
            throw .invalid(option: "--dp-target-epsilon", "must be a positive number, got \(targetEpsilon)")
        }
        if let finalAverageDecay, !(finalAverageDecay >= 0 && finalAverageDecay < 1) {
            throw .invalid(option: "--dp-final-average", "must be in [0, 1), got \(finalAverageDecay)")
        }
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
        self.targetEpsilon = targetEpsilon
        self.population = population
        // 0 averages nothing: the same as no average.
        self.finalAverageDecay = finalAverageDecay == 0 ? nil : finalAverageDecay
    }

    /// Whether the coordinator keeps an `IterateAverage` to release when the budget is spent:
    /// only a run with a target ε ends its budget.
    public var averagesFinalVersion: Bool { targetEpsilon != nil && finalAverageDecay != nil }

    /// δ when none is given: 1/n^1.1, below the 1/n at which releasing one member's data
    /// outright would satisfy (0, δ)-DP, and never above 1e-5.
    public static func defaultDelta(population: Int) -> Double {
        min(1e-5, 1 / pow(Double(max(1, population)), 1.1))
    }

    /// The sampling rate of an aggregate of `updates` updates, capped at 1.
    public func samplingRate(updates: Int) -> Double {
        min(1, Double(updates) / Double(population))
    }

    /// The standard deviation of the noise added to a sum: σ·C.
    public var noiseStandardDeviation: Double { noiseMultiplier * clipNorm }
}

/// Why a differential-privacy setting is refused; the message names the option.
public enum DifferentialPrivacyError: Error, Equatable, CustomStringConvertible {
    case invalid(option: String, String)

    public var description: String {
        switch self {
        case .invalid(let option, let problem): "\(option) \(problem)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
