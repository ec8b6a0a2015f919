/// How a worker bounds each update's L2 norm before it enters a partial: the defence that
/// composes with sums (issue 16). One client's update then moves the aggregate by at most
/// its bound × its weight, whatever it claims, because clipping happens before summing.
///
/// The update is *clipped* (scaled down to the bound), not refused: an honest client whose
/// update is merely large still contributes its direction.
public enum NormBound: Sendable, Equatable, CustomStringConvertible {
    /// No bound (only non-finite values are refused).
    case off
    /// Clip to this L2 norm.
    case fixed(Double)
    /// Clip to `multiplier` × the median norm of the worker's recent updates (the last
    /// `RunningMedian.capacity`). The bound follows the run: updates shrink as training
    /// converges, and so does what one update may weigh.
    case adaptive(multiplier: Double)

    /// The default: three times the recent median. Honest updates of one run rarely differ
    /// by more than that in norm (BENCHMARKS.md measures how often they are clipped), and a
    /// scaled or exploded update is cut to a few honest updates' worth.
    public static let `default` = NormBound.adaptive(multiplier: 3)

    /// How many norms an adaptive bound needs before it is trusted to let an update through
    /// unjudged (`NormClipper`): fewer, and the first update a worker sees could be the one
    /// that sets the bound.
    public static let warmUpNorms = 5

    public var description: String {
        switch self {
        case .off: "off"
        case .fixed(let bound): "fixed:\(bound.formatted)"
        case .adaptive(let multiplier): "adaptive:\(multiplier.formatted)"
        }
    }
}

extension NormBound {
    /// Parses `off`, `fixed:N` (N > 0) or `adaptive[:M]` (M ≥ 1; 3 when omitted).
    /// - Throws: `SpecError` naming the spec and what was expected.
    public init(parsing text: String) throws(SpecError) {
        let spec = try Spec(text)
        switch spec.name {
        case "off", "none":
            _ = try spec.parameters(0, usage: "'off' without parameters")
            self = .off
        case "fixed":
            self = .fixed(try spec.parameters(1, usage: "'fixed:N' with N > 0", where: { _, value in value > 0 })[0])
        case "adaptive":
            if spec.parameters.isEmpty {
                self = .default
            } else {
                self = .adaptive(multiplier: try spec.parameters(1, usage: "'adaptive:M' with M ≥ 1", where: { _, value in value >= 1 })[0])
            }
        default:
            throw .unknownName(spec: text, known: ["adaptive[:M]", "fixed:N", "off"])
        }
    }
}
