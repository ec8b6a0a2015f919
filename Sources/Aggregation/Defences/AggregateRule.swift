/// How the updates of one aggregate are combined into the step the server takes.
///
/// `mean` is what lets aggregation scale out: a mean is a sum, sums are what workers send,
/// and any number of workers can each sum a share. The robust rules (Yin et al. 2018's
/// coordinate-wise median and trimmed mean, as Flower's FedMedian and FedTrimmedAvg) need
/// every update of the aggregate apart, so workers must send partials of one update each
/// (`AggregationStrategy.Kind.workerFlushSize`) and the coordinator does the combining:
/// worker scaling no longer cuts the coordinator's work, which is their cost.
public enum AggregateRule: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The (staleness-weighted) mean: FedBuff and FedAsync as published.
    case mean
    /// Per coordinate, drop the `fraction` largest and smallest values, average the rest.
    case trimmedMean(fraction: Double)
    /// Per coordinate, the median.
    case median

    /// Whether the rule needs each update apart (anything but the mean).
    public var needsEachUpdate: Bool { self != .mean }

    public var description: String {
        switch self {
        case .mean: "mean"
        case .trimmedMean(let fraction): "trimmed-mean:\(fraction.formatted)"
        case .median: "median"
        }
    }

    /// Combines `vectors` (each one update's weighted delta, all the same length)
    /// coordinate by coordinate. The mean of nothing is nothing: call it with at least one.
    public func combine(_ vectors: [[Float]]) -> [Float] {
        guard let first = vectors.first else { return [] }
        let n = vectors.count
        var result = [Float](repeating: 0, count: first.count)
        if self == .mean {
            for vector in vectors { result.addScaled(vector, by: 1 / Float(n)) }
            return result
        }
        // How many to drop at each end: at least one of a buffer of 3 or more when the
        // fraction is positive (rounding 0.1 × 9 down would trim nothing from the short
        // buffer a run ends with), never all of them.
        let trimmed: Int =
            switch self {
            case .trimmedMean(let fraction): min(Int((Double(n) * fraction).rounded(.up)), (n - 1) / 2)
            default: 0
            }
        var column = [Float](repeating: 0, count: n)
        for index in 0..<first.count {
            for member in 0..<n { column[member] = vectors[member][index] }
            column.sort()
            switch self {
            case .median:
                result[index] = n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2
            default:
                var sum: Float = 0
                for member in trimmed..<(n - trimmed) { sum += column[member] }
                result[index] = sum / Float(n - 2 * trimmed)
            }
        }
        return result
    }
}

extension AggregateRule {
    /// Parses `mean`, `median` or `trimmed-mean[:β]` (0 ≤ β < 0.5, default 0.1).
    /// - Throws: `SpecError` naming the spec and what was expected.
    public init(parsing text: String) throws(SpecError) {
        let spec = try Spec(text)
        switch spec.name {
        case "mean":
            _ = try spec.parameters(0, usage: "'mean' without parameters")
            self = .mean
        case "median":
            _ = try spec.parameters(0, usage: "'median' without parameters")
            self = .median
        case "trimmed-mean":
            let fraction = spec.parameters.isEmpty
                ? 0.1 : try spec.parameters(1, usage: "'trimmed-mean:B' with 0 ≤ B < 0.5", where: { _, value in value >= 0 && value < 0.5 })[0]
            self = .trimmedMean(fraction: fraction)
        default:
            throw .unknownName(spec: text, known: ["mean", "trimmed-mean[:B]", "median"])
        }
    }
}
