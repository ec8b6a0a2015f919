/// Why a model could not be built or an update could not be applied.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case invalidArchitecture(String)
    case unknownArchitecture(String, known: [String])
    /// An update or parameter vector made for another architecture.
    case specMismatch(expected: UInt64, expectedName: String, received: UInt64)
    case parameterCountMismatch(expected: Int, received: Int)
    case featureCountMismatch(model: Int, dataset: Int)
    case invalidTrainingSetting(String)

    public var description: String {
        switch self {
        case .invalidArchitecture(let why): "invalid architecture: \(why)"
        case .unknownArchitecture(let name, let known): "unknown model '\(name)' (known: \(known.joined(separator: ", ")))"
        case .specMismatch(let expected, let name, let received):
            "update is for model spec \(String(received, radix: 16)), but this model is '\(name)' with spec \(String(expected, radix: 16))"
        case .parameterCountMismatch(let expected, let received): "expected \(expected) parameters, received \(received)"
        case .featureCountMismatch(let model, let dataset): "model takes \(model) features per sample, dataset has \(dataset)"
        case .invalidTrainingSetting(let why): "invalid training setting: \(why)"
        }
    }
}
