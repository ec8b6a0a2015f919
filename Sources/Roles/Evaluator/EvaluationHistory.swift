import FedCore
import Foundation

/// One evaluated model version: a row of `history.csv`.
public struct EvaluationRecord: Sendable, Equatable {
    public var version: UInt64
    /// Wall-clock seconds since the run started.
    public var seconds: Double
    public var accuracy: Double
    public var loss: Double
    public var macroF1: Double
    /// The ε the version cost (differentially private runs only).
    public var dpEpsilon: Double?
    /// Precision, recall and F1 of each named class (runs on a table, whose classes have
    /// names; nil on MNIST, whose ten digits the macro-F1 summarises).
    public var perClass: [ClassMetrics]?

    public init(
        version: UInt64, seconds: Double, accuracy: Double, loss: Double, macroF1: Double, dpEpsilon: Double? = nil,
        perClass: [ClassMetrics]? = nil
    ) {
        self.dpEpsilon = dpEpsilon
        self.version = version
        self.seconds = seconds
        self.accuracy = accuracy
        self.loss = loss
        self.macroF1 = macroF1
        self.perClass = perClass
    }
}

/// Why a `history.csv` could not be read back.
public enum HistoryCSVError: Error, Equatable, CustomStringConvertible {
    case badHeader(found: String)
    case badRow(line: Int, text: String)

    public var description: String {
        switch self {
        case .badHeader(let found):
            return "history.csv: expected header '\(HistoryCSV.header)' (then optionally ',dp_epsilon', then ',precision_C,recall_C,f1_C' per class C), found '\(found)'"
        case .badRow(let line, let text):
            return "history.csv line \(line): expected one number per header field (dp_epsilon may be empty), found '\(text)'"
        }
    }
}

/// The `history.csv` format shared by `simulate`, `eval` and `report`, so any of
/// them can be plotted by the same code and by a spreadsheet. A differentially private
/// run adds a sixth column, `dp_epsilon`: the ε each version had cost. A run on a table
/// adds three columns per class, in class order, named after it: `precision_malignant`,
/// `recall_malignant`, `f1_malignant`, so a clinician's figure can be followed over
/// versions in a spreadsheet. A comma or line break in a class name is written as a space
/// (the header has no quoting).
public enum HistoryCSV {
    public static let header = "version,seconds,accuracy,loss,macro_f1"
    public static let privateHeader = header + ",dp_epsilon"
    static let metricPrefixes = ["precision_", "recall_", "f1_"]

    /// The header of `records`: the base columns, `dp_epsilon` when any record has it, and
    /// the per-class columns of the first record that has them.
    static func header(withEpsilon: Bool, classes: [String]) -> String {
        let perClass = classes.flatMap { name in metricPrefixes.map { $0 + columnName(name) } }
        return ([withEpsilon ? privateHeader : header] + perClass).joined(separator: ",")
    }

    static func columnName(_ name: String) -> String {
        String(name.map { $0 == "," || $0.isNewline ? " " : $0 })
    }

    public static func row(_ record: EvaluationRecord, withEpsilon: Bool = false, classCount: Int = 0) -> String {
        var fields = [String(format: "%llu,%.3f,%.6f,%.6f,%.6f", record.version, record.seconds, record.accuracy, record.loss, record.macroF1)]
        if withEpsilon { fields.append(record.dpEpsilon.map { String(format: "%.6f", $0) } ?? "") }
        if classCount > 0 {
            // A record without per-class figures (none should be, in one run) leaves them empty.
            let metrics = record.perClass.flatMap { $0.count == classCount ? $0 : nil }
            fields += metrics.map { $0.flatMap { [$0.precision, $0.recall, $0.f1].map { String(format: "%.6f", $0) } } }
                ?? Array(repeating: "", count: 3 * classCount)
        }
        return fields.joined(separator: ",")
    }

    public static func render(_ records: [EvaluationRecord]) -> String {
        let withEpsilon = records.contains { $0.dpEpsilon != nil }
        let classes = records.lazy.compactMap(\.perClass).first?.map(\.name) ?? []
        let rows = records.map { row($0, withEpsilon: withEpsilon, classCount: classes.count) }
        return ([header(withEpsilon: withEpsilon, classes: classes)] + rows).joined(separator: "\n") + "\n"
    }

    /// The class names of a header's per-class columns (empty when it has none).
    /// - Throws: `.badHeader` for a header that is not `render`'s.
    static func classes(inHeader line: String) throws(HistoryCSVError) -> (withEpsilon: Bool, classes: [String]) {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let base = header.split(separator: ",").map(String.init)
        guard fields.count >= base.count, Array(fields[..<base.count]) == base else { throw .badHeader(found: line) }
        var rest = fields[base.count...]
        let withEpsilon = rest.first == "dp_epsilon"
        if withEpsilon { rest = rest.dropFirst() }
        guard rest.count % 3 == 0 else { throw .badHeader(found: line) }
        let triples = Array(rest)
        let classes = try stride(from: 0, to: triples.count, by: 3).map { (start) throws(HistoryCSVError) -> String in
            guard triples[start].hasPrefix(metricPrefixes[0]) else { throw .badHeader(found: line) }
            let name = String(triples[start].dropFirst(metricPrefixes[0].count))
            guard (0..<3).allSatisfy({ triples[start + $0] == metricPrefixes[$0] + name }) else { throw .badHeader(found: line) }
            return name
        }
        return (withEpsilon, classes)
    }

    public static func parse(_ text: String) throws(HistoryCSVError) -> [EvaluationRecord] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first else { throw .badHeader(found: "") }
        let (withEpsilon, classes) = try Self.classes(inHeader: first)
        let columns = 5 + (withEpsilon ? 1 : 0) + 3 * classes.count
        lines.removeFirst()
        return try lines.enumerated().map { (index, line) throws(HistoryCSVError) in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == columns, let version = UInt64(fields[0]),
                  let seconds = Double(fields[1]), let accuracy = Double(fields[2]),
                  let loss = Double(fields[3]), let macroF1 = Double(fields[4])
            else { throw .badRow(line: index + 2, text: line) }
            let epsilon = withEpsilon ? Double(fields[5]) : nil
            guard !withEpsilon || fields[5].isEmpty || epsilon != nil else { throw .badRow(line: index + 2, text: line) }
            let metricFields = fields[(columns - 3 * classes.count)...]
            var perClass: [ClassMetrics]?
            if !classes.isEmpty, !metricFields.allSatisfy(\.isEmpty) {
                let values = metricFields.compactMap { Double($0) }
                guard values.count == metricFields.count else { throw .badRow(line: index + 2, text: line) }
                perClass = classes.indices.map {
                    ClassMetrics(name: classes[$0], precision: values[3 * $0], recall: values[3 * $0 + 1], f1: values[3 * $0 + 2])
                }
            }
            return EvaluationRecord(
                version: version, seconds: seconds, accuracy: accuracy, loss: loss, macroF1: macroF1, dpEpsilon: epsilon,
                perClass: perClass)
        }
    }
}
