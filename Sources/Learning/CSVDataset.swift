import Foundation

/// Tabular data from a CSV file: numeric feature columns and one integer
/// label column, as hospitals and banks keep it.
public enum CSVDataset {
    /// - Parameters:
    ///   - labelColumn: zero-based index of the label column (negative counts from the end).
    ///   - hasHeader: skip the first line.
    ///   - classCount: number of classes; defaults to the largest label + 1.
    /// - Throws: `DatasetError` naming the file, the 1-based line and column
    ///   of the first bad value or short row.
    public static func load(
        path: String, labelColumn: Int = -1, hasHeader: Bool = true, classCount: Int? = nil
    ) throws(DatasetError) -> Dataset {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "no such file, not readable or not UTF-8")
        }
        var features: [Float] = []
        var labels: [Int] = []
        var columns: Int?
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = index + 1
            let line = rawLine
            if (hasHeader && index == 0) || line.allSatisfy({ $0 == " " }) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            let expected = columns ?? fields.count
            guard fields.count == expected, expected >= 2 else {
                throw .csvColumnCount(path: path, line: lineNumber, expected: max(expected, 2), found: fields.count)
            }
            columns = expected
            let label = labelColumn >= 0 ? labelColumn : expected + labelColumn
            guard label >= 0 && label < expected else {
                throw .csvColumnCount(path: path, line: lineNumber, expected: label + 1, found: expected)
            }
            for (column, field) in fields.enumerated() {
                let trimmed = field.trimmingCharacters(in: .whitespaces)
                if column == label {
                    guard let value = Int(trimmed), value >= 0 else {
                        throw .csvBadValue(path: path, line: lineNumber, column: column + 1, text: String(trimmed))
                    }
                    labels.append(value)
                } else {
                    guard let value = Float(trimmed), value.isFinite else {
                        throw .csvBadValue(path: path, line: lineNumber, column: column + 1, text: String(trimmed))
                    }
                    features.append(value)
                }
            }
        }
        guard let columns, !labels.isEmpty else { throw .csvEmpty(path: path) }
        return try Dataset(
            features: features, labels: labels, featureCount: columns - 1, classCount: classCount ?? (labels.max()! + 1))
    }
}
