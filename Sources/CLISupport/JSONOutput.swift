import Foundation

/// Writes what a command's `--json` option asks for: pretty, key-sorted and snake_case,
/// the same for every command, so scripts read all of them alike.
public func writeJSON(_ value: some Encodable, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    try encoder.encode(value).write(to: URL(fileURLWithPath: path))
}
