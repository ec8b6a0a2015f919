import Foundation

/// The values of a comma-separated option (`--batches 10,32,64`, `--queue-types
/// classic,quorum`), the one reading every `fedq bench` list shares, so each command checks
/// only its own range and words its own error.
enum CommaSeparated {
    /// Each item read by `parse` (spaces around it ignored), or nil when the list is empty
    /// or one item does not read.
    static func values<Value>(_ text: String, _ parse: (String) -> Value?) -> [Value]? {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        let values = items.compactMap { parse($0.trimmingCharacters(in: .whitespaces)) }
        return values.isEmpty || values.count != items.count ? nil : values
    }

    /// Integers of at least `minimum`, or nil.
    static func integers(_ text: String, minimum: Int) -> [Int]? {
        values(text) { Int($0) }.flatMap { $0.allSatisfy { $0 >= minimum } ? $0 : nil }
    }
}
