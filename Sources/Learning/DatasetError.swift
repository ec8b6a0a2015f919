/// Why a dataset file could not be loaded; every case names the file and,
/// where there is one, the position of the problem.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case corruptGzip(path: String, reason: String)
    case badIDXHeader(path: String, offset: Int, reason: String)
    case truncatedIDX(path: String, expectedBytes: Int, actualBytes: Int)
    case checksumMismatch(path: String, expected: String, actual: String)
    case countMismatch(images: String, labels: String, imageCount: Int, labelCount: Int)
    case csvBadValue(path: String, line: Int, column: Int, text: String)
    case csvColumnCount(path: String, line: Int, expected: Int, found: Int)
    case csvEmpty(path: String)
    case csvNoSuchColumn(path: String, column: String, header: [String])
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .corruptGzip(let path, let reason): "\(path): corrupt gzip stream: \(reason)"
        case .badIDXHeader(let path, let offset, let reason): "\(path): bad IDX header at byte \(offset): \(reason)"
        case .truncatedIDX(let path, let expected, let actual):
            "\(path): truncated IDX data: header promises \(expected) bytes, file has \(actual) (ends at byte \(actual))"
        case .checksumMismatch(let path, let expected, let actual): "\(path): md5 \(actual) does not match the published \(expected)"
        case .countMismatch(let images, let labels, let imageCount, let labelCount):
            "\(images) has \(imageCount) images but \(labels) has \(labelCount) labels"
        case .csvBadValue(let path, let line, let column, let text): "\(path):\(line): column \(column): '\(text)' is not a number"
        case .csvColumnCount(let path, let line, let expected, let found): "\(path):\(line): expected \(expected) columns, found \(found)"
        case .csvEmpty(let path): "\(path): no data rows"
        case .csvNoSuchColumn(let path, let column, let header):
            "\(path): no column '\(column)' in the header (columns: \(header.joined(separator: ", ")))"
        case .shapeMismatch(let why): "dataset shape: \(why)"
        }
    }
}
