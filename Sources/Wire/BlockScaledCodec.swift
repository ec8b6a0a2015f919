/// A value codec that quantises blocks of `blockSize` values against one fp32 scale each
/// (`int8`, `int4`): what the block size means on the wire and in a spec string is the
/// same for all of them, so it is written once here and a codec only states its sizes.
public protocol BlockScaledCodec: ValueCodec {
    /// Block sizes the codec accepts.
    static var blockSizes: Set<Int> { get }
    /// The block size of ``ValueCodec/standard`` and of a spec string without one.
    static var defaultBlockSize: Int { get }
    /// The field a bad block size read off the wire is reported under.
    static var blockSizeField: WireField { get }
    /// Values per fp32 scale. Not checked on construction (tests build invalid codecs on
    /// purpose); ``validateParameters()`` refuses sizes outside ``blockSizes``.
    var blockSize: Int { get }
    init(blockSize: Int)
}

extension BlockScaledCodec {
    public static var standard: Self { Self(blockSize: defaultBlockSize) }

    public var wireParameter: UInt16 { UInt16(truncatingIfNeeded: blockSize) }

    public init(wireParameter: UInt16) throws(WireError) {
        self.init(blockSize: Int(wireParameter))
        try validateParameters()
    }

    public init(parameter: String?) throws(CodecSpecError) {
        guard let parameter else {
            self = .standard
            return
        }
        guard let parsed = Int(parameter), Self.blockSizes.contains(parsed) else {
            throw .invalidParameter(stage: Self.name, value: parameter)
        }
        self.init(blockSize: parsed)
    }

    public func validateParameters() throws(WireError) {
        guard Self.blockSizes.contains(blockSize) else {
            throw .invalidCodecParameter(field: Self.blockSizeField, value: "\(blockSize)")
        }
    }

    public var description: String { blockSize == Self.defaultBlockSize ? Self.name : "\(Self.name):\(blockSize)" }

    /// Stochastic rounding: unbiased in expectation, which error feedback relies on.
    public var isStochastic: Bool { true }

    /// The largest |x| of a block, via the bit patterns: for finite floats the unsigned
    /// order of |x|'s bits is the order of |x|, and an integer max vectorises where a
    /// Float max does not.
    @inline(__always)
    static func largestMagnitude(_ input: UnsafePointer<Float>, count: Int) -> Float {
        var largest: UInt32 = 0
        for index in 0..<count { largest = max(largest, input[index].bitPattern & 0x7FFF_FFFF) }
        return Float(bitPattern: largest)
    }

    /// Blocks (and so scales) for `count` values; the last block may be short.
    func blockCount(count: Int) -> Int { (count + blockSize - 1) / blockSize }
}
