/// What a worker does with an update given its staleness: weigh it by the staleness
/// function, or drop it (and count it) once it is older than `maxStaleness`.
public struct StalenessPolicy: Sendable, Equatable, Codable {
    public var function: StalenessFunction
    /// Updates more than this many versions behind are dropped; `nil` keeps them all.
    /// Synchronous FedAvg uses 0: only updates on the current version count.
    public var maxStaleness: Int?
    /// Also weigh each update by its client's sample count (FedBuff's optional
    /// weighting; FedAvg's usual one), so clients with more data pull harder.
    public var weighsBySamples: Bool

    public init(function: StalenessFunction = .constant, maxStaleness: Int? = nil, weighsBySamples: Bool = false) {
        self.function = function
        self.maxStaleness = maxStaleness
        self.weighsBySamples = weighsBySamples
    }

    /// The most versions behind an update may be and still count: `maxStaleness`, or
    /// `defaultHorizon` when none is set. There is always one: it is how long the
    /// coordinator must remember an applied update's id (`SettledIndex`), since a replay
    /// older than this is dropped stale whatever its id.
    public var horizon: Int { maxStaleness ?? Self.defaultHorizon }

    /// 1,000 versions: an update that far behind weighs 0.03 under `poly:0.5` and drags
    /// the model back to where it was a thousand aggregates ago.
    public static let defaultHorizon = 1_000

    /// The verdict on one update.
    public enum Verdict: Sendable, Equatable {
        /// Aggregate it: `weight` = s(τ) (× samples) multiplies its delta and `mass`
        /// (1, or samples) is what it adds to the mean's denominator; pass both to
        /// `PartialAggregate.add`.
        case accept(staleness: Int, weight: Float, mass: Float)
        /// Too stale: drop it and count it as dropped-stale.
        case dropStale(staleness: Int)
    }

    /// Judges an update trained from `base` on `samples` examples while the global model
    /// is at `current`.
    public func verdict(base: ModelVersion, current: ModelVersion, samples: Int = 1) -> Verdict {
        let tau = staleness(current: current, base: base)
        if tau > horizon { return .dropStale(staleness: tau) }
        let mass: Float = weighsBySamples ? Float(max(0, samples)) : 1
        return .accept(staleness: tau, weight: function.weight(staleness: tau) * mass, mass: mass)
    }
}
