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

    public init(version: UInt64, seconds: Double, accuracy: Double, loss: Double, macroF1: Double) {
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
            return "history.csv: expected header '\(HistoryCSV.header)', found '\(found)'"
        case .badRow(let line, let text):
            return "history.csv line \(line): expected 5 numeric fields, found '\(text)'"
        }
    }
}

/// The `history.csv` format shared by `simulate`, `eval` and `report`, so any of
/// them can be plotted by the same code and by a spreadsheet.
public enum HistoryCSV {
    public static let header = "version,seconds,accuracy,loss,macro_f1"

    public static func row(_ record: EvaluationRecord) -> String {
        String(format: "%llu,%.3f,%.6f,%.6f,%.6f", record.version, record.seconds, record.accuracy, record.loss, record.macroF1)
    }

    public static func render(_ records: [EvaluationRecord]) -> String {
        ([header] + records.map(row)).joined(separator: "\n") + "\n"
    }

    public static func parse(_ text: String) throws(HistoryCSVError) -> [EvaluationRecord] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, first == header else {
            throw .badHeader(found: lines.first ?? "")
        }
        lines.removeFirst()
        return try lines.enumerated().map { (index, line) throws(HistoryCSVError) in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 5, let version = UInt64(fields[0]),
                  let seconds = Double(fields[1]), let accuracy = Double(fields[2]),
                  let loss = Double(fields[3]), let macroF1 = Double(fields[4])
            else { throw .badRow(line: index + 2, text: line) }
            return EvaluationRecord(version: version, seconds: seconds, accuracy: accuracy, loss: loss, macroF1: macroF1)
        }
    }
}
