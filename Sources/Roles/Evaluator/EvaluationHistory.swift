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

    public init(version: UInt64, seconds: Double, accuracy: Double, loss: Double, macroF1: Double, dpEpsilon: Double? = nil) {
        self.dpEpsilon = dpEpsilon
        self.version = version
        self.seconds = seconds
        self.accuracy = accuracy
        self.loss = loss
        self.macroF1 = macroF1
    }
}

/// Why a `history.csv` could not be read back.
public enum HistoryCSVError: Error, Equatable, CustomStringConvertible {
    case badHeader(found: String)
    case badRow(line: Int, text: String)

    public var description: String {
        switch self {
        case .badHeader(let found):
            return "history.csv: expected header '\(HistoryCSV.header)' (or with ',dp_epsilon'), found '\(found)'"
        case .badRow(let line, let text):
            return "history.csv line \(line): expected 5 numeric fields (6 with dp_epsilon), found '\(text)'"
        }
    }
}

/// The `history.csv` format shared by `simulate`, `eval` and `report`, so any of
/// them can be plotted by the same code and by a spreadsheet. A differentially private
/// run adds a sixth column, `dp_epsilon`: the ε each version had cost.
public enum HistoryCSV {
    public static let header = "version,seconds,accuracy,loss,macro_f1"
    public static let privateHeader = header + ",dp_epsilon"

    public static func row(_ record: EvaluationRecord, withEpsilon: Bool = false) -> String {
        let base = String(format: "%llu,%.3f,%.6f,%.6f,%.6f", record.version, record.seconds, record.accuracy, record.loss, record.macroF1)
        guard withEpsilon else { return base }
        return base + "," + (record.dpEpsilon.map { String(format: "%.6f", $0) } ?? "")
    }

    public static func render(_ records: [EvaluationRecord]) -> String {
        let withEpsilon = records.contains { $0.dpEpsilon != nil }
        return ([withEpsilon ? privateHeader : header] + records.map { row($0, withEpsilon: withEpsilon) }).joined(separator: "\n") + "\n"
    }

    public static func parse(_ text: String) throws(HistoryCSVError) -> [EvaluationRecord] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, first == header || first == privateHeader else {
            throw .badHeader(found: lines.first ?? "")
        }
        let columns = first == header ? 5 : 6
        lines.removeFirst()
        return try lines.enumerated().map { (index, line) throws(HistoryCSVError) in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == columns, let version = UInt64(fields[0]),
                  let seconds = Double(fields[1]), let accuracy = Double(fields[2]),
                  let loss = Double(fields[3]), let macroF1 = Double(fields[4])
            else { throw .badRow(line: index + 2, text: line) }
            let epsilon = columns == 6 ? Double(fields[5]) : nil
            guard columns == 5 || fields[5].isEmpty || epsilon != nil else { throw .badRow(line: index + 2, text: line) }
            return EvaluationRecord(version: version, seconds: seconds, accuracy: accuracy, loss: loss, macroF1: macroF1, dpEpsilon: epsilon)
        }
    }
}
