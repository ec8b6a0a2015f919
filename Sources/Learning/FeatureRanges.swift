import Foundation

/// Public bounds of a table's features (`--feature-ranges FILE`): the scaling a table
/// federation uses instead of statistics of its clients' rows.
///
/// Why: the standardisation merged from the clients' counts, sums and sums of squares
/// (`FeatureStatistics`) depends on their rows and travels, un-noised, in every model
/// version; under differential privacy that is a release the accountant never counted.
/// Bounds known before any client's data (an instrument's range, published reference
/// values) cost no privacy, so the coordinator can publish the first version at once and
/// no client sends statistics at all (docs/privacy.md).
///
/// The file is CSV with the header `feature,min,max` and one line per feature of the
/// table, by column name, in any order. A feature maps to `(x − mid) / half-width`, so
/// values inside the bounds land in [−1, 1]; values outside are not clipped (update
/// clipping, not input clipping, bounds what one client can do to the model).
public struct FeatureRanges: Sendable, Equatable {
    /// One feature's bounds, lower < upper.
    public struct Bounds: Sendable, Equatable {
        public var lower: Double
        public var upper: Double
    }

    /// The bounds per feature name.
    public let bounds: [String: Bounds]

    /// - Throws: `FeatureRangesError` naming the line of the first bad entry.
    public init(parsing text: String) throws(FeatureRangesError) {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        let header = lines.first.map(Self.fields) ?? []
        guard header == ["feature", "min", "max"] else {
            throw .badLine(line: 1, reason: "the header must be `feature,min,max`")
        }
        var bounds: [String: Bounds] = [:]
        for (index, line) in lines.enumerated().dropFirst() {
            let fields = Self.fields(line)
            if fields == [""] || fields.first?.hasPrefix("#") == true { continue }
            let number = index + 1
            guard fields.count == 3, !fields[0].isEmpty else {
                throw .badLine(line: number, reason: "expected `feature,min,max`, got \(fields.count) fields")
            }
            // Float, not Double, is what the standardisation holds: a bound beyond Float's
            // range would scale to infinity, and a range narrower than Float can tell apart
            // would divide by zero.
            guard let lower = Double(fields[1]), let upper = Double(fields[2]), Float(lower).isFinite, Float(upper).isFinite else {
                throw .badLine(line: number, reason: "`\(fields[1])` and `\(fields[2])` must be finite numbers within Float's range")
            }
            guard lower < upper, Float(upper) - Float(lower) > 0 else {
                throw .badLine(line: number, reason: "min \(fields[1]) must be below max \(fields[2])")
            }
            guard bounds[fields[0]] == nil else { throw .badLine(line: number, reason: "`\(fields[0])` is given twice") }
            bounds[fields[0]] = Bounds(lower: lower, upper: upper)
        }
        self.bounds = bounds
    }

    /// The standardisation of a table whose feature columns are `features` (in feature
    /// order): mean = the middle of each range, deviation = half its width.
    /// - Throws: `FeatureRangesError.missing` for a feature with no range, `.unknown` for a
    ///   range that names no feature (a misspelt name would otherwise be silently unused).
    public func standardization(for features: [String]) throws(FeatureRangesError) -> Standardization {
        let missing = features.filter { bounds[$0] == nil }
        guard missing.isEmpty else { throw .missing(missing) }
        let unknown = bounds.keys.filter { !features.contains($0) }.sorted()
        guard unknown.isEmpty else { throw .unknown(unknown) }
        let ranges = features.map { bounds[$0]! }
        return Standardization(
            means: ranges.map { Float(($0.lower + $0.upper) / 2) }, deviations: ranges.map { Float(($0.upper - $0.lower) / 2) })
    }

    private static func fields(_ line: Substring) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// Why a feature-ranges file was refused.
public enum FeatureRangesError: Error, Equatable, CustomStringConvertible {
    case badLine(line: Int, reason: String)
    /// Features of the table that the file gives no range for.
    case missing([String])
    /// Names in the file that are no feature of the table (the label column included).
    case unknown([String])

    public var description: String {
        switch self {
        case .badLine(let line, let reason): "line \(line): \(reason)"
        case .missing(let names): "no range for \(Self.list(names))"
        case .unknown(let names): "\(Self.list(names)) \(names.count == 1 ? "is" : "are") not a feature of the table"
        }
    }

    private static func list(_ names: [String]) -> String {
        let shown = names.prefix(5).map { "`\($0)`" }.joined(separator: ", ")
        return names.count > 5 ? "\(shown) and \(names.count - 5) more" : shown
    }
}
