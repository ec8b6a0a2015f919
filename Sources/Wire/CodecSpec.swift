/// A codec chain: optional top-k sparsification, one value codec, optional lossless deflate.
///
/// Chains are written as spec strings (`fp32`, `fp16`, `int8`, `int8:256`, `topk:0.01`,
/// `topk:0.01+int8`, `int8+deflate`, `fp16+deflate`, ...). The stages always run in the order
/// sparsifier → values → compression, which is the only order that makes sense (quantising
/// before selecting would rank by quantised magnitudes; deflating before quantising gains nothing),
/// so the spec string is parsed into these three slots rather than an arbitrary list.
public struct CodecSpec: Hashable, Sendable, CustomStringConvertible {
    /// How the values that are sent are represented.
    public enum ValueCodec: Hashable, Sendable {
        /// IEEE 754 binary32, lossless.
        case fp32
        /// IEEE 754 binary16, round to nearest even.
        case fp16
        /// Block-wise symmetric linear quantisation to -127...127 with one fp32 scale per block,
        /// stochastically rounded so the decoded value is an unbiased estimate of the input.
        case int8(blockSize: Int)
    }

    /// Block sizes `int8` accepts: a scale per 256-1024 values keeps the scale overhead under
    /// 1.6% while a single outlier only coarsens its own block.
    public static let int8BlockSizes: Set<Int> = [256, 512, 1024]
    /// Default `int8` block size: 0.8% scale overhead.
    public static let defaultInt8BlockSize = 512

    /// Fraction of entries kept by top-k (largest magnitudes), or `nil` for dense updates.
    public var topkFraction: Float?
    /// The representation of the values sent.
    public var values: ValueCodec
    /// Whether the encoded payload is deflated (lossless) on top.
    public var deflate: Bool

    public init(topkFraction: Float? = nil, values: ValueCodec = .fp32, deflate: Bool = false) {
        self.topkFraction = topkFraction
        self.values = values
        self.deflate = deflate
    }

    public static let fp32 = CodecSpec()

    /// The canonical spec string; parsing it gives back an equal spec.
    public var description: String {
        var stages: [String] = []
        if let topkFraction { stages.append("topk:\(topkFraction)") }
        switch values {
        case .fp32: if topkFraction == nil { stages.append("fp32") }
        case .fp16: stages.append("fp16")
        case .int8(let blockSize):
            stages.append(blockSize == Self.defaultInt8BlockSize ? "int8" : "int8:\(blockSize)")
        }
        if deflate { stages.append("deflate") }
        return stages.joined(separator: "+")
    }

    /// Whether encoding draws random numbers (int8 stochastic rounding).
    var isStochastic: Bool {
        if case .int8 = values { true } else { false }
    }

    /// Number of top-k entries kept out of `parameterCount`: at least one unless the vector is empty.
    public func topkCount(parameterCount: Int) -> Int {
        guard let topkFraction else { return parameterCount }
        let k = Int((Double(topkFraction) * Double(parameterCount)).rounded())
        return min(parameterCount, max(k, parameterCount > 0 ? 1 : 0))
    }
}

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
        case .unknownStage(let stage): "unknown codec stage '\(stage)' (expected fp32, fp16, int8[:BLOCK], topk:FRACTION, deflate)"
        case .missingParameter(let stage): "codec stage '\(stage)' needs a parameter, e.g. topk:0.01"
        case .unexpectedParameter(let stage): "codec stage '\(stage)' takes no parameter"
        case .invalidParameter(let stage, let value):
            "invalid parameter '\(value)' for \(stage) (topk: 0 < FRACTION <= 1; int8 block: 256, 512 or 1024)"
        case .duplicateStage(let stage): "codec stage '\(stage)' appears twice"
        case .stageOutOfOrder(let stage):
            "codec stage '\(stage)' is out of order (order: topk, then fp32|fp16|int8, then deflate)"
        }
    }
}

extension CodecSpec {
    /// Parses a spec string such as `topk:0.01+int8+deflate`.
    /// - Throws: ``CodecSpecError`` naming the offending stage.
    public init(parsing spec: String) throws(CodecSpecError) {
        let stages = spec.split(separator: "+", omittingEmptySubsequences: false).map {
            $0.trimmingWhitespace()
        }
        guard !spec.trimmingWhitespace().isEmpty else { throw .empty }
        var result = CodecSpec()
        var rank = 0  // 1 topk, 2 value codec, 3 deflate: stages must come in increasing rank.
        var sawValues = false
        for stage in stages {
            guard !stage.isEmpty else { throw .empty }
            let parts = stage.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].lowercased()
            let parameter = parts.count > 1 ? String(parts[1]) : nil
            let stageRank: Int
            switch name {
            case "topk":
                stageRank = 1
                guard let parameter else { throw .missingParameter(stage: name) }
                guard let fraction = Float(parameter), fraction > 0, fraction <= 1 else {
                    throw .invalidParameter(stage: name, value: parameter)
                }
                result.topkFraction = fraction
            case "fp32", "fp16", "int8":
                stageRank = 2
                if sawValues { throw .duplicateStage(name) }
                sawValues = true
                switch name {
                case "fp32", "fp16":
                    if parameter != nil { throw .unexpectedParameter(stage: name) }
                    result.values = name == "fp32" ? .fp32 : .fp16
                default:
                    var blockSize = Self.defaultInt8BlockSize
                    if let parameter {
                        guard let parsed = Int(parameter), Self.int8BlockSizes.contains(parsed) else {
                            throw .invalidParameter(stage: name, value: parameter)
                        }
                        blockSize = parsed
                    }
                    result.values = .int8(blockSize: blockSize)
                }
            case "deflate":
                stageRank = 3
                if parameter != nil { throw .unexpectedParameter(stage: name) }
                result.deflate = true
            default:
                throw .unknownStage(stage)
            }
            if stageRank == rank { throw .duplicateStage(name) }
            if stageRank < rank { throw .stageOutOfOrder(name) }
            rank = stageRank
        }
        self = result
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String { self[...].trimmingWhitespace() }
}
