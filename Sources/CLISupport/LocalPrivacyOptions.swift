import ArgumentParser
import Privacy

/// Local differential privacy's options, for the commands that run clients (`simulate`,
/// `fleet`, `client`): each client clips and noises its own delta before it leaves, and
/// keeps its own books of what it spent. `--ldp-clip` turns it on; `--ldp-unit` says whether
/// the guarantee covers each client's whole data (its update is noised) or each record (it
/// trains with DP-SGD). Values parse a leading
/// minus as theirs (`--ldp-clip -1`), so the error names the real problem.
public struct LocalPrivacyOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Local differential privacy: each client clips its update (--ldp-unit update) or each example's gradient (record) to this L2 norm and adds noise. Turns local DP on; needs --ldp-noise-multiplier.")
    public var ldpClip: Double?
    @Option(help: "Local DP: what each client's guarantee covers: 'update' (its whole data; the update is clipped and noised before it leaves) or 'record' (each of its rows; it trains with DP-SGD).")
    public var ldpUnit: LocalDifferentialPrivacy.Unit?
    @Option(parsing: .unconditional, help: "Local DP: the Gaussian noise's standard deviation per parameter, in units of --ldp-clip (positive): on each update, or on each DP-SGD step's gradient sum.")
    public var ldpNoiseMultiplier: Double?
    @Option(parsing: .unconditional, help: "Local DP: the δ of each client's (ε, δ) (default \(LocalDifferentialPrivacy.defaultDelta)).")
    public var ldpDelta: Double?
    @Option(parsing: .unconditional, help: "Local DP: a client publishes nothing more once another update would take its own ε beyond this; without it ε is only reported.")
    public var ldpTargetEpsilon: Double?
    @Option(parsing: .unconditional, help: "Local DP per record: one Poisson sampling rate q in (0, 1] for every client, so that its row count stays private too: an update is ceil(epochs / q) steps and each step's sum is divided by --batch whatever the client's rows (default: --batch / the client's rows, and the row count is treated as public).")
    public var ldpSamplingRate: Double?
    @Option(help: "Local DP: keep what each client spent in FILE, read at start and written before each update leaves, so a restarted client keeps its spent budget (default: this process's memory only).")
    public var ldpBudgetFile: String?

    public init() {}

    /// The flags `EnvironmentDefaults` fills from `FEDQ_LDP_*` variables, for the client commands only.
    public static let environmentFlags = ["ldp-clip", "ldp-unit", "ldp-noise-multiplier", "ldp-delta", "ldp-target-epsilon", "ldp-sampling-rate", "ldp-budget-file"]

    public func validate() throws {
        _ = try settings()
    }

    /// The settings; nil when local DP is off.
    /// - Throws: `ValidationError` naming the option at fault.
    public func settings() throws -> LocalDifferentialPrivacy? {
        guard let ldpClip else {
            let given = [("--ldp-unit", ldpUnit != nil), ("--ldp-noise-multiplier", ldpNoiseMultiplier != nil), ("--ldp-delta", ldpDelta != nil),
                         ("--ldp-target-epsilon", ldpTargetEpsilon != nil), ("--ldp-sampling-rate", ldpSamplingRate != nil),
                         ("--ldp-budget-file", ldpBudgetFile != nil)].filter(\.1).map(\.0)
            if let first = given.first { throw ValidationError("\(first) needs --ldp-clip (which turns local differential privacy on)") }
            return nil
        }
        guard let ldpNoiseMultiplier else {
            throw ValidationError("--ldp-clip needs --ldp-noise-multiplier: a clipped update without noise is not private")
        }
        if let ldpBudgetFile, ldpBudgetFile.isEmpty { throw ValidationError("--ldp-budget-file must name a file") }
        do {
            return try LocalDifferentialPrivacy(
                clipNorm: ldpClip, noiseMultiplier: ldpNoiseMultiplier, delta: ldpDelta, targetEpsilon: ldpTargetEpsilon,
                unit: ldpUnit ?? .update, samplingRate: ldpSamplingRate)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

extension LocalDifferentialPrivacy.Unit: ExpressibleByArgument {}
