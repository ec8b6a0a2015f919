import ArgumentParser
import Roles

/// `--eval-interval-ms` and `--eval-share`: how often the evaluator of `fedq simulate` and
/// `fedq eval` may evaluate (`EvaluationPacing`).
public struct EvaluationOptions: ParsableArguments {
    @Option(help: "Minimum milliseconds between the starts of two evaluations.")
    public var evalIntervalMs = 200
    @Option(help: """
        The most of one core's time evaluation may take, in (0, 1]: after an evaluation that took \
        T of CPU time the evaluator rests T × (1 − share) / share (a CNN's seconds-long evaluation would \
        otherwise keep a core from training).
        """)
    public var evalShare = EvaluationPacing.defaultShare

    public init() {}

    public func validate() throws {
        guard evalIntervalMs >= 0 else { throw ValidationError("--eval-interval-ms must be >= 0") }
        guard evalShare > 0, evalShare <= 1 else { throw ValidationError("--eval-share must be in (0, 1]") }
    }

    /// The pacing these options set; call after `validate()`.
    public var pacing: EvaluationPacing {
        EvaluationPacing(minimumInterval: .milliseconds(evalIntervalMs), share: evalShare)
    }
}
