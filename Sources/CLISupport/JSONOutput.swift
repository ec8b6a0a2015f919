import Foundation

/// Writes what a command's `--json` option asks for: pretty, key-sorted and snake_case,
/// the same for every command, so scripts read all of them alike.
public func writeJSON(_ value: some Encodable, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    // Atomically (a temporary file, then a rename): role summaries are rewritten every
    // second while `fedq report` reads them, which once read one half-written.
    try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
}
