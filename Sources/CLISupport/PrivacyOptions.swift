import ArgumentParser
import Privacy

/// Differential privacy's options, shared by every role: the workers need the clip, the
/// coordinator all of them, `simulate` both. `--dp-clip` turns DP on. Values parse a
/// leading minus as theirs (`--dp-clip -1`), so the error names the real problem.
public struct PrivacyOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Differential privacy: clip every client update to this L2 norm (at the workers). Turns DP on; needs --dp-noise-multiplier.")
    public var dpClip: Double?
    @Option(parsing: .unconditional, help: "DP: the coordinator adds Gaussian noise of standard deviation this × --dp-clip to each aggregate's sum.")
    public var dpNoiseMultiplier: Double?
    @Option(parsing: .unconditional, help: "DP: the δ of the reported (ε, δ) (default: the smaller of 1e-5 and 1/population^1.1).")
    public var dpDelta: Double?
    @Option(parsing: .unconditional, help: "DP: refuse aggregates that would take ε beyond this (simulate stops there); without it ε is only reported.")
    public var dpTargetEpsilon: Double?
    @Option(parsing: .unconditional, help: "DP: clients in the federation, for each aggregate's sampling rate (updates / population). simulate: --clients.")
    public var dpPopulation: Int?
    @Option(parsing: .unconditional, help: "DP with --dp-target-epsilon: when the budget is spent (or a simulation stops short of it), the coordinator releases as the last version a moving average of the versions with this decay per version (default \(DifferentialPrivacy.defaultFinalAverageDecay); 0: none; costs no ε).")
    public var dpFinalAverage: Double?

    public init() {}

    /// The flags `EnvironmentDefaults` fills from `FEDQ_DP_*` variables.
    public static let environmentFlags = ["dp-clip", "dp-noise-multiplier", "dp-delta", "dp-target-epsilon", "dp-population", "dp-final-average"]

    public var isEnabled: Bool { dpClip != nil }

    public func validate() throws {
        guard isEnabled else {
            let given = [("--dp-noise-multiplier", dpNoiseMultiplier != nil), ("--dp-delta", dpDelta != nil),
                         ("--dp-target-epsilon", dpTargetEpsilon != nil), ("--dp-final-average", dpFinalAverage != nil)].filter(\.1).map(\.0)
            if let first = given.first { throw ValidationError("\(first) needs --dp-clip (which turns differential privacy on)") }
            return
        }
        guard dpNoiseMultiplier != nil else {
            throw ValidationError("--dp-clip needs --dp-noise-multiplier (0 clips without noise, which gives no privacy)")
        }
        if let dpFinalAverage, dpFinalAverage > 0, dpTargetEpsilon == nil {
            throw ValidationError("--dp-final-average needs --dp-target-epsilon: the average is released when that budget runs out")
        }
        _ = try settings(population: dpPopulation ?? 1)
    }

    /// The settings, for a federation of `population` clients unless `--dp-population`
    /// says otherwise; nil when DP is off.
    /// - Throws: `ValidationError` naming the option at fault.
    public func settings(population: Int?) throws -> DifferentialPrivacy? {
        guard let dpClip else { return nil }
        guard let population = dpPopulation ?? population else {
            throw ValidationError("--dp-population is needed with --dp-clip: the sampling rate of an aggregate is its updates / the population")
        }
        do {
            return try DifferentialPrivacy(
                clipNorm: dpClip, noiseMultiplier: dpNoiseMultiplier ?? 0, delta: dpDelta, targetEpsilon: dpTargetEpsilon,
                population: population, finalAverageDecay: dpFinalAverage ?? DifferentialPrivacy.defaultFinalAverageDecay)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
