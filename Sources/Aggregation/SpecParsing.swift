import Foundation

/// Splits `name:p1,p2,...` spec strings (the CLI's `--staleness`, `--server-opt`, ...)
/// into a name and numeric parameters, so every spec family reports errors the same way.
struct Spec {
    let name: String
    let parameters: [Double]
    let text: String

    init(_ text: String) throws(SpecError) {
        self.text = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .empty }
        let parts = trimmed.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        name = String(parts[0]).lowercased()
        guard parts.count == 2 else {
            parameters = []
            return
        }
        var values: [Double] = []
        for field in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
            let field = field.trimmingCharacters(in: .whitespaces)
            guard let value = Double(field), value.isFinite else {
                throw .notANumber(spec: trimmed, field: String(field))
            }
            values.append(value)
        }
        parameters = values
    }

    /// Demands exactly `count` parameters, each satisfying `isValid`.
    func parameters(
        _ count: Int, usage: String, where isValid: (Int, Double) -> Bool = { _, _ in true }
    ) throws(SpecError) -> [Double] {
        guard parameters.count == count else {
            throw .wrongParameterCount(spec: text, expected: usage)
        }
        for (index, value) in parameters.enumerated() where !isValid(index, value) {
            throw .outOfRange(spec: text, expected: usage)
        }
        return parameters
    }
}

/// Why a spec string (staleness function, server optimizer, strategy) was refused.
public enum SpecError: Error, Equatable, CustomStringConvertible {
    case empty
    case unknownName(spec: String, known: [String])
    case notANumber(spec: String, field: String)
    case wrongParameterCount(spec: String, expected: String)
    case outOfRange(spec: String, expected: String)

    public var description: String {
        switch self {
        case .empty: "empty spec"
        case .unknownName(let spec, let known):
            "unknown spec '\(spec)': expected one of \(known.joined(separator: ", "))"
        case .notANumber(let spec, let field): "'\(field)' in '\(spec)' is not a finite number"
        case .wrongParameterCount(let spec, let expected),
            .outOfRange(let spec, let expected):
            "bad spec '\(spec)': expected \(expected)"
        }
    }
}
