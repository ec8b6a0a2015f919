/// A codec chain: optional top-k sparsification, one value codec, optional lossless deflate.
///
/// Chains are written as spec strings (`fp32`, `fp16`, `int8`, `int8:256`, `topk:0.01`,
/// `topk:0.01+int8`, `int8+deflate`, `fp16+deflate`, ...). The stages always run in the order
/// sparsifier → values → compression, which is the only order that makes sense (quantising
/// before selecting would rank by quantised magnitudes; deflating before quantising gains nothing),
/// so the spec string is parsed into these three slots rather than an arbitrary list.
public struct CodecSpec: Sendable, CustomStringConvertible {
    /// Fraction of entries kept by top-k (largest magnitudes), or `nil` for dense updates.
    public var topkFraction: Float?
    /// The representation of the values sent: one of ``ValueCodecRegistry/codecs``.
    public var values: any ValueCodec
    /// Whether the encoded payload is deflated (lossless) on top.
    public var deflate: Bool

    public init(topkFraction: Float? = nil, values: any ValueCodec = .fp32, deflate: Bool = false) {
        self.topkFraction = topkFraction
        self.values = values
        self.deflate = deflate
    }

    public static let fp32 = CodecSpec()

    /// The canonical spec string; parsing it gives back an equal spec.
    public var description: String {
        var stages: [String] = []
        if let topkFraction { stages.append("topk:\(topkFraction)") }
        // The value codec defaults to fp32, which the canonical form omits after top-k.
        if topkFraction == nil || !(values is FP32Codec) { stages.append(values.description) }
        if deflate { stages.append("deflate") }
        return stages.joined(separator: "+")
    }

    /// Whether encoding draws random numbers (stochastic rounding).
    var isStochastic: Bool { values.isStochastic }

    /// Number of top-k entries kept out of `parameterCount`: at least one unless the vector is empty.
    public func topkCount(parameterCount: Int) -> Int {
        guard let topkFraction else { return parameterCount }
        let k = Int((Double(topkFraction) * Double(parameterCount)).rounded())
        return min(parameterCount, max(k, parameterCount > 0 ? 1 : 0))
    }
}

extension CodecSpec: Hashable {
    public static func == (lhs: CodecSpec, rhs: CodecSpec) -> Bool {
        lhs.topkFraction == rhs.topkFraction && lhs.deflate == rhs.deflate
            && AnyHashable(lhs.values) == AnyHashable(rhs.values)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(topkFraction)
        hasher.combine(AnyHashable(values))
        hasher.combine(deflate)
    }
}
