import Aggregation
import ArgumentParser

/// The workers' defences against hostile updates (issue 16, docs/robustness.md): on by
/// default, each with a flag to tune or turn it off. Shared by `fedq worker` and
/// `fedq simulate`; `fedq coordinator` holds `--max-client-rate` across the workers
/// (`FleetClientLimit`); the other roles ignore them.
public struct DefenceOptions: ParsableArguments {
    @Option(help: "Clip every update's L2 norm: adaptive[:M] (M × the median of recent norms, default 3), fixed:N, or off.")
    public var clip = NormBound.default.description
    @Option(help: "Refuse updates claiming more training samples than this (out-of-bounds).")
    public var maxSamples: UInt64 = UpdateDefences.defaultMaxSamples
    @Option(help: "With --weigh-by-samples: no update weighs more than this × the median sample count of recent updates (0: no cap).")
    public var sampleShare: Double = 4
    @Option(help: "Take at most this many updates of one client per model version at each worker, and per aggregate at the coordinator across all workers; the rest are refused rate-limited (0: no limit).")
    public var maxClientRate = 4

    public init() {}

    /// The flags `EnvironmentDefaults` fills from `FEDQ_*` variables.
    public static let environmentFlags = ["clip", "max-samples", "sample-share", "max-client-rate"]

    public func validate() throws {
        _ = try defences()
    }

    /// The defences these flags describe.
    /// - Throws: `ValidationError` naming the option at fault.
    public func defences() throws -> UpdateDefences {
        let norm: NormBound
        do { norm = try NormBound(parsing: clip) } catch { throw ValidationError("--clip: \(error)") }
        guard maxSamples > 0 else { throw ValidationError("--max-samples must be positive") }
        guard sampleShare >= 0, sampleShare.isFinite else { throw ValidationError("--sample-share must be >= 0") }
        guard maxClientRate >= 0 else { throw ValidationError("--max-client-rate must be >= 0 (0: no limit)") }
        return UpdateDefences(
            norm: norm, maxSamples: maxSamples, sampleShare: sampleShare > 0 ? sampleShare : nil,
            updatesPerClientVersion: maxClientRate > 0 ? maxClientRate : nil)
    }
}
