/// An exponential moving average of the model's versions (Polyak–Ruppert averaging with a
/// forgetting factor), kept beside the model and released once, as the run's last version,
/// when a differentially private run's budget is spent (`DifferentialPrivacy.finalAverageDecay`).
///
/// Why: under DP every version carries the noise of its last aggregates, and the budget
/// allows only a few dozen of them, so the last iterate is whichever noisy point the budget
/// ended on: 20 WDBC hospitals at ε = 8 ended anywhere from 55% to 97% (BENCHMARKS.md). An
/// average of the recent versions keeps their common direction and averages their noise
/// down. It is computed from versions already released, so it is post-processing and costs
/// no ε (Dwork & Roth 2014, Prop. 2.1); De et al. 2022 ("Unlocking high-accuracy
/// differentially private image classification through scale") average DP-SGD's
/// parameters the same way.
///
/// The decay warms up as TensorFlow's `ExponentialMovingAverage(num_updates:)` does,
/// `min(decay, (1 + t) / (10 + t))` for the t-th version after the first, so the first
/// versions (far from any optimum) leave the average quickly instead of anchoring it.
public struct IterateAverage: Sendable, Equatable {
    /// The forgetting factor per version, in [0, 1): 0.9 weighs about the last ten.
    public let decay: Double
    /// The average so far (empty before the first version).
    public private(set) var parameters: [Float]
    /// Versions folded in.
    public private(set) var count: Int

    public init(decay: Double) {
        precondition(decay >= 0 && decay < 1, "an average's decay is in [0, 1)")
        self.decay = decay
        parameters = []
        count = 0
    }

    /// An average restored from a checkpoint.
    public init(decay: Double, parameters: [Float], count: Int) {
        self.init(decay: decay)
        self.parameters = parameters
        self.count = parameters.isEmpty ? 0 : count
    }

    /// The weight the average keeps when the next version comes in.
    public var nextDecay: Double {
        count == 0 ? 0 : min(decay, Double(count) / Double(count + 9))
    }

    /// Folds in one version's parameters: average += (1 − d)(version − average).
    public mutating func include(_ version: [Float]) {
        if parameters.isEmpty {
            parameters = version
        } else {
            parameters.moveToward(version, by: Float(1 - nextDecay))
        }
        count += 1
    }
}
