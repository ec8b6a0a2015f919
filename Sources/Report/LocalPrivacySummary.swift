import Foundation
import Privacy
import Roles

/// What a run's clients spent under local differential privacy, as `summary.json` states
/// it: `ldp_unit` (`update` or `record`: what each client's guarantee covers), `ldp_epsilon`
/// (the largest ε any one client spent: each client's guarantee is its own, and the weakest
/// is the one to read), `ldp_delta`, `ldp_clip`,
/// `ldp_noise_multiplier`, `ldp_releases` (the most updates one client published) and
/// `ldp_clients_spent` (clients that may publish nothing more), every one `null` when local
/// DP is off, as the central `dp_*` keys are; `ldp_sampling_rate` is the fixed rate of a
/// per-record run that kept its clients' row counts private (`null` otherwise).
public struct LocalPrivacySummary: Sendable, Equatable {
    public var unit: LocalDifferentialPrivacy.Unit
    public var epsilon: Double
    public var delta: Double
    public var clip: Double
    public var noiseMultiplier: Double
    public var releases: Int
    public var clientsSpent: Int
    public var samplingRate: Double?

    public init(
        unit: LocalDifferentialPrivacy.Unit = .update, epsilon: Double, delta: Double, clip: Double, noiseMultiplier: Double,
        releases: Int, clientsSpent: Int, samplingRate: Double? = nil
    ) {
        self.unit = unit
        self.epsilon = epsilon
        self.delta = delta
        self.clip = clip
        self.noiseMultiplier = noiseMultiplier
        self.releases = releases
        self.clientsSpent = clientsSpent
        self.samplingRate = samplingRate
    }

    /// The books' state now.
    public init(_ books: LocalPrivacyBooks) {
        let overview = books.overview
        self.init(
            unit: books.settings.unit, epsilon: overview.largestEpsilon, delta: books.settings.delta, clip: books.settings.clipNorm,
            noiseMultiplier: books.settings.noiseMultiplier, releases: overview.mostReleases, clientsSpent: overview.clientsSpent,
            samplingRate: books.settings.samplingRate)
    }

    /// One line for people: `simulate`'s closing lines and the HTML report's summary.
    public var description: String {
        String(
            format: "ε up to %.3f per client at δ %g, per %@ (the most updates one client published: %d; clip %g, noise multiplier %g%@)%@",
            epsilon, delta, unit.rawValue, releases, clip, noiseMultiplier,
            samplingRate.map { String(format: ", sampling rate %g for every client", $0) } ?? "",
            clientsSpent > 0 ? "; \(clientsSpent) clients spent their budget" : "")
    }

    enum CodingKeys: String, CodingKey {
        case unit = "ldp_unit"
        case epsilon = "ldp_epsilon"
        case delta = "ldp_delta"
        case clip = "ldp_clip"
        case noiseMultiplier = "ldp_noise_multiplier"
        case releases = "ldp_releases"
        case clientsSpent = "ldp_clients_spent"
        case samplingRate = "ldp_sampling_rate"
    }

    /// Writes the keys into the summary's own JSON object (nulls for nil).
    static func encode(_ summary: LocalPrivacySummary?, to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(summary?.unit.rawValue, forKey: .unit)
        try container.encode(summary?.epsilon, forKey: .epsilon)
        try container.encode(summary?.delta, forKey: .delta)
        try container.encode(summary?.clip, forKey: .clip)
        try container.encode(summary?.noiseMultiplier, forKey: .noiseMultiplier)
        try container.encode(summary?.releases, forKey: .releases)
        try container.encode(summary?.clientsSpent, forKey: .clientsSpent)
        try container.encode(summary?.samplingRate, forKey: .samplingRate)
    }

    /// Reads the keys: nil when local DP was off (`ldp_clip` null or absent).
    static func decode(from decoder: any Decoder) throws -> LocalPrivacySummary? {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let clip = try container.decodeIfPresent(Double.self, forKey: .clip) else { return nil }
        // `ldp_unit` came with the record unit: a summary without it was per update.
        let unit = try container.decodeIfPresent(String.self, forKey: .unit).map { name in
            guard let unit = LocalDifferentialPrivacy.Unit(rawValue: name) else {
                throw DecodingError.dataCorruptedError(forKey: .unit, in: container, debugDescription: "ldp_unit must be update or record")
            }
            return unit
        } ?? .update
        return LocalPrivacySummary(
            unit: unit, epsilon: try container.decode(Double.self, forKey: .epsilon), delta: try container.decode(Double.self, forKey: .delta),
            clip: clip, noiseMultiplier: try container.decode(Double.self, forKey: .noiseMultiplier),
            releases: try container.decode(Int.self, forKey: .releases),
            clientsSpent: try container.decode(Int.self, forKey: .clientsSpent),
            samplingRate: try container.decodeIfPresent(Double.self, forKey: .samplingRate))
    }
}
