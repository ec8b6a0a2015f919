import Privacy
import Roles

/// What a differentially private run spent, as `summary.json` states it: the keys
/// `dp_epsilon`, `dp_delta`, `dp_noise_multiplier`, `dp_clip`, `dp_steps` and
/// `dp_sampling_rate`, and `dp_final_average_version` (the version that is the average of
/// the versions, released when the budget ran out; null if none), beside the summary's own
/// (every one `null` when DP is off, so scripts index all summaries alike).
public struct PrivacySummary: Sendable, Equatable {
    /// ε spent at `delta`.
    public var epsilon: Double
    public var delta: Double
    public var noiseMultiplier: Double
    public var clip: Double
    /// Aggregates the accountant recorded (each one step).
    public var steps: Int
    /// The mean sampling rate of those steps: updates applied / steps / population.
    public var samplingRate: Double
    /// The version released as the average of the versions when the budget ran out
    /// (`IterateAverage`); nil when none was.
    public var finalAverageVersion: UInt64?
    /// Aggregates that held more than one update of some client (each charged to ε at σ/m
    /// for the most, m, one client had in it; docs/privacy.md), and the largest such m.
    public var repeatedClientAggregates = 0
    public var largestClientShare = 0
    /// Partials held back to a later aggregate so that no aggregate held a client twice.
    public var postponedPartials = 0

    public init(
        epsilon: Double, delta: Double, noiseMultiplier: Double, clip: Double, steps: Int, samplingRate: Double,
        finalAverageVersion: UInt64? = nil
    ) {
        self.epsilon = epsilon
        self.delta = delta
        self.noiseMultiplier = noiseMultiplier
        self.clip = clip
        self.steps = steps
        self.samplingRate = samplingRate
        self.finalAverageVersion = finalAverageVersion
    }

    public init(settings: DifferentialPrivacy, epsilon: Double, steps: Int, updatesApplied: Int) {
        self.epsilon = epsilon
        delta = settings.delta
        noiseMultiplier = settings.noiseMultiplier
        clip = settings.clipNorm
        self.steps = steps
        samplingRate = steps == 0 ? 0 : min(1, Double(updatesApplied) / Double(steps) / Double(settings.population))
    }

    /// What `coordinator` has spent so far (nil without differential privacy).
    public static func of(_ coordinator: Coordinator, settings: DifferentialPrivacy?) async -> PrivacySummary? {
        guard let settings, let epsilon = await coordinator.privacyEpsilon else { return nil }
        var summary = PrivacySummary(
            settings: settings, epsilon: epsilon, steps: await coordinator.privacySteps ?? 0,
            updatesApplied: await coordinator.accounting.applied)
        summary.finalAverageVersion = await coordinator.finalAverageVersion
        (summary.repeatedClientAggregates, summary.largestClientShare) = await coordinator.repeatedClients
        summary.postponedPartials = await coordinator.postponedPartials
        return summary
    }

    enum CodingKeys: String, CodingKey {
        case epsilon = "dp_epsilon"
        case delta = "dp_delta"
        case noiseMultiplier = "dp_noise_multiplier"
        case clip = "dp_clip"
        case steps = "dp_steps"
        case samplingRate = "dp_sampling_rate"
        case finalAverageVersion = "dp_final_average_version"
        case repeatedClientAggregates = "dp_aggregates_with_repeated_clients"
        case largestClientShare = "dp_largest_client_share"
        case postponedPartials = "dp_partials_postponed"
    }

    /// Writes the keys into the summary's own JSON object (nulls for nil).
    static func encode(_ summary: PrivacySummary?, to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        // JSON has no infinity: with σ = 0 (clipping, no noise) ε is unbounded and written as null.
        try container.encode(summary.flatMap { $0.epsilon.isFinite ? $0.epsilon : nil }, forKey: .epsilon)
        try container.encode(summary?.delta, forKey: .delta)
        try container.encode(summary?.noiseMultiplier, forKey: .noiseMultiplier)
        try container.encode(summary?.clip, forKey: .clip)
        try container.encode(summary?.steps, forKey: .steps)
        try container.encode(summary?.samplingRate, forKey: .samplingRate)
        try container.encode(summary?.finalAverageVersion, forKey: .finalAverageVersion)
        try container.encode(summary?.repeatedClientAggregates, forKey: .repeatedClientAggregates)
        try container.encode(summary?.largestClientShare, forKey: .largestClientShare)
        try container.encode(summary?.postponedPartials, forKey: .postponedPartials)
    }

    /// Reads the keys from the summary's own JSON object: nil when DP was off (`dp_clip`
    /// null or absent); a null `dp_epsilon` beside a clip reads as +∞.
    static func decode(from decoder: any Decoder) throws -> PrivacySummary? {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let clip = try container.decodeIfPresent(Double.self, forKey: .clip) else { return nil }
        var summary = PrivacySummary(
            epsilon: try container.decodeIfPresent(Double.self, forKey: .epsilon) ?? .infinity,
            delta: try container.decode(Double.self, forKey: .delta),
            noiseMultiplier: try container.decode(Double.self, forKey: .noiseMultiplier), clip: clip,
            steps: try container.decode(Int.self, forKey: .steps),
            samplingRate: try container.decode(Double.self, forKey: .samplingRate),
            finalAverageVersion: try container.decodeIfPresent(UInt64.self, forKey: .finalAverageVersion))
        // Absent in the summaries of runs from before they were counted.
        summary.repeatedClientAggregates = try container.decodeIfPresent(Int.self, forKey: .repeatedClientAggregates) ?? 0
        summary.largestClientShare = try container.decodeIfPresent(Int.self, forKey: .largestClientShare) ?? 0
        summary.postponedPartials = try container.decodeIfPresent(Int.self, forKey: .postponedPartials) ?? 0
        return summary
    }
}
