import Foundation

/// A CSV table with a header row, read for a label column named by the user
/// (`--label diagnosis`): every other column is a numeric feature, and the
/// label's distinct values, sorted, are the classes (`benign` 0, `malignant`
/// 1), so a table needs no recoding before FedQueue reads it.
public struct CSVTable: Sendable {
    public let dataset: Dataset
    /// The class names, index = class.
    public let classNames: [String]
    /// The feature columns' names, in feature order.
    public let featureNames: [String]
    /// The label column's name.
    public let label: String

    /// The names a partition by column looks a column up in.
    public var columns: TableColumns { TableColumns(label: label, features: featureNames) }

    /// - Throws: `DatasetError` naming the file and, for a bad row, its line and column;
    ///   `.csvNoSuchColumn` when no header field is `label`.
    public static func load(path: String, label: String) throws(DatasetError) -> CSVTable {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "no such file, not readable or not UTF-8")
        }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        guard let headerLine = lines.first else { throw .csvEmpty(path: path) }
        let header = headerLine.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let labelColumn = header.firstIndex(of: label) else { throw .csvNoSuchColumn(path: path, column: label, header: header) }
        var features: [Float] = []
        var labelTexts: [String] = []
        for (index, line) in lines.enumerated().dropFirst() where !line.allSatisfy({ $0 == " " }) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else {
                throw .csvColumnCount(path: path, line: index + 1, expected: header.count, found: fields.count)
            }
            for (column, field) in fields.enumerated() {
                let trimmed = field.trimmingCharacters(in: .whitespaces)
                if column == labelColumn {
                    labelTexts.append(trimmed)
                } else {
                    guard let value = Float(trimmed), value.isFinite else {
                        throw .csvBadValue(path: path, line: index + 1, column: column + 1, text: trimmed)
                    }
                    features.append(value)
                }
            }
        }
        guard !labelTexts.isEmpty else { throw .csvEmpty(path: path) }
        let classNames = Array(Set(labelTexts)).sorted()
        let classOf = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        let dataset = try Dataset(
            features: features, labels: labelTexts.map { classOf[$0]! }, featureCount: header.count - 1,
            classCount: classNames.count)
        var featureNames = header
        featureNames.remove(at: labelColumn)
        return CSVTable(dataset: dataset, classNames: classNames, featureNames: featureNames, label: label)
    }
}

/// A table's column names: which is the label and which are the features, in feature
/// order, so `column:NAME` partitions can find their column in a `Dataset`'s rows.
public struct TableColumns: Sendable, Equatable {
    public var label: String
    public var features: [String]

    public init(label: String, features: [String]) {
        self.label = label
        self.features = features
    }
}
