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
