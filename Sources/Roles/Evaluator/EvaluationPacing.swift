/// How long the evaluator rests after evaluating a version, so that evaluation does not
/// starve the training it measures.
///
/// A fixed pause is the wrong bound for every model but one: the mlp evaluates 10,000
/// test images in a few tens of milliseconds, McMahan's CNN takes seconds, and an
/// evaluator that pauses 200 ms between 3-second evaluations keeps a core of a 2-core
/// machine busy with nothing but evaluation. So the rest is also proportional to what the
/// last evaluation took: with `share` 0.25, evaluating takes at most a quarter of one
/// core's time however heavy the model is. `minimumInterval` stays the floor between the
/// starts of two evaluations (for the light models, where the share alone would evaluate
/// dozens of times a second).
public struct EvaluationPacing: Sendable, Equatable {
    /// The least time from one evaluation's start to the next one's.
    public var minimumInterval: Duration
    /// The most of one core's time evaluation may take, in (0, 1]; 1 leaves only
    /// `minimumInterval`.
    public var share: Double

    /// Evaluation's default share of one core.
    public static let defaultShare = 0.25

    /// - Precondition: `share` is in (0, 1] (the command lines check it).
    public init(minimumInterval: Duration, share: Double = Self.defaultShare) {
        precondition(share > 0 && share <= 1, "an evaluation share is in (0, 1]")
        self.minimumInterval = minimumInterval
        self.share = share
    }

    /// The rest after an evaluation (verification included) that took `took`.
    /// - Parameter cpu: what it cost a core (its thread's CPU time), when known. The share
    ///   is of a core's time, and on a machine whose cores are all busy training the wall
    ///   time stretches to twice the CPU time or more: resting in proportion to the wall
    ///   time would then evaluate half as often as the share allows.
    public func rest(afterEvaluationOf took: Duration, cpu: Duration? = nil) -> Duration {
        let floor = minimumInterval - took
        let proportional = min(cpu ?? took, took) * ((1 - share) / share)
        return max(.zero, max(floor, proportional))
    }
}
