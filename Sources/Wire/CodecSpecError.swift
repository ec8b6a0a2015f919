/// Why a codec spec string was refused.
public enum CodecSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case unknownStage(String)
    case missingParameter(stage: String)
    case unexpectedParameter(stage: String)
    case invalidParameter(stage: String, value: String)
    case duplicateStage(String)
    case stageOutOfOrder(String)

    public var description: String {
        switch self {
        case .empty: "empty codec spec"
        case .unknownStage(let stage): "unknown codec stage '\(stage)' (expected topk:FRACTION, \(ValueCodecRegistry.syntaxSummary), deflate)"
        case .missingParameter(let stage): "codec stage '\(stage)' needs a parameter, e.g. topk:0.01"
        case .unexpectedParameter(let stage): "codec stage '\(stage)' takes no parameter"
        case .invalidParameter(let stage, let value):
            "invalid parameter '\(value)' for \(stage) (expected \(Self.syntax(of: stage)))"
        case .duplicateStage(let stage): "codec stage '\(stage)' appears twice"
        case .stageOutOfOrder(let stage):
            "codec stage '\(stage)' is out of order (order: topk, then \(ValueCodecRegistry.nameSummary), then deflate)"
        }
    }

    private static func syntax(of stage: String) -> String {
        stage == "topk" ? "topk:FRACTION with 0 < FRACTION <= 1" : ValueCodecRegistry.codec(named: stage)?.syntax ?? stage
    }
}
