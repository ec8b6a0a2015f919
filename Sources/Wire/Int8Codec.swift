/// Block-wise symmetric linear quantisation to -127...127 with one fp32 scale per block,
/// stochastically rounded so the decoded value is an unbiased estimate of the input (wire id 3).
///
/// Layout of `count` values with block size B: `ceil(count/B)` fp32 scales, then `count` int8
/// codes. Code q of block b decodes to `q * scale[b]`; `scale = max|x| / 127` over the block.
/// q = floor(x/scale + u) with u uniform on [0, 1), so E[q·scale] = x: the quantiser is unbiased
/// and quantisation noise averages out across clients instead of biasing the model.
///
/// The loops are plain scalar code over raw pointers on purpose: LLVM vectorises them, while
/// Swift's generic SIMD masks (`clamped`, `replacing(with:where:)`) compile to scalar code on
/// this target and were 20× slower.
public struct Int8Codec: BlockScaledCodec {
    public static let wireID: UInt8 = 3
    public static let name = "int8"
    public static let syntax = "int8[:256|512|1024]"

    /// Block sizes `int8` accepts: a scale per 256-1024 values keeps the scale overhead under
    /// 1.6% while a single outlier only coarsens its own block.
    public static let blockSizes: Set<Int> = [256, 512, 1024]
    /// Default block size: 0.8% scale overhead.
    public static let defaultBlockSize = 512
    /// Largest scale the decoder accepts: any larger and 127·scale could overflow to infinity.
    static let maxScale = Float.greatestFiniteMagnitude / 128

    public var blockSize: Int

    public init(blockSize: Int) { self.blockSize = blockSize }

    public static let blockSizeField = WireField.int8BlockSize

    public func encodedByteCount(count: Int) -> Int { 4 * blockCount(count: count) + count }

    /// Quantises finite `values` into `output` (which has exactly ``encodedByteCount(count:)`` bytes).
    public func encode(_ values: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer, random: inout VectorRandom) {
        let count = values.count
        let blocks = blockCount(count: count)
        guard let source = values.baseAddress, let base = output.baseAddress else { return }
        let codes = (base + 4 * blocks).assumingMemoryBound(to: UInt8.self)
        let noise = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)
        defer { noise.deallocate() }
        for block in 0..<blocks {
            let start = block * blockSize
            let length = min(blockSize, count - start)
            let input = source + start
            let blockMax = Self.largestMagnitude(input, count: length)
            let scale = blockMax / 127
            base.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: 4 * block, as: UInt32.self)
            let inverse: Float = blockMax > 0 ? 127 / blockMax : 0
            var filled = 0
            while filled < length {
                UnsafeMutableRawPointer(noise + filled).storeBytes(of: random.nextUnitFloats(), as: SIMD16<Float>.self)
                filled += 16
            }
            let output = codes + start
            for index in 0..<length {
                // |x·inverse| <= 127 (plus rounding). Adding 2^23 + 128 makes the float adder
                // round to an integer in the low mantissa bits; subtracting 0.5 first turns its
                // round-to-nearest into floor, so the low bits hold floor(x·inverse + u) + 128
                // without a vector floor (SSE4.1) or a float→int conversion.
                let shifted = ((input[index] * inverse + noise[index]) - 0.5) + 8_388_736
                let biased = min(max(Int32(bitPattern: shifted.bitPattern) &- 0x4B00_0000, 1), 255)
                output[index] = UInt8(truncatingIfNeeded: biased) ^ 0x80
            }
        }
    }

    /// Codes need no check (any -128...127 decodes); each scale must be non-negative, not NaN and
    /// at most ``maxScale``.
    public func validate(_ payload: UnsafeRawPointer, count: Int) throws(WireError) {
        for block in 0..<blockCount(count: count) {
            let scale = Float(bitPattern: payload.loadUnaligned(fromByteOffset: 4 * block, as: UInt32.self))
            // Written so that NaN fails too: every comparison with NaN is false.
            guard scale.sign == .plus, scale <= Self.maxScale else { throw .invalidScale(block: block) }
        }
    }

    public func accumulate(_ payload: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>, weight: Float) {
        let blocks = blockCount(count: count)
        let codes = (payload + 4 * blocks).assumingMemoryBound(to: Int8.self)
        for block in 0..<blocks {
            let scale = weight * Float(bitPattern: payload.loadUnaligned(fromByteOffset: 4 * block, as: UInt32.self))
            let start = block * blockSize
            let end = min(start + blockSize, count)
            for index in start..<end { output[index] += scale * Float(codes[index]) }
        }
    }
}

extension Int8Codec {
    /// Σ (scale·code)² per block: one pass over the codes, no decoded vector (the default
    /// writes and reads 4 bytes per value where this reads 1).
    public func squaredNorm(_ payload: UnsafeRawPointer, count: Int) -> Double {
        let blocks = blockCount(count: count)
        let codes = (payload + 4 * blocks).assumingMemoryBound(to: Int8.self)
        var total = 0.0
        for block in 0..<blocks {
            let scale = Double(Float(bitPattern: payload.loadUnaligned(fromByteOffset: 4 * block, as: UInt32.self)))
            let start = block * blockSize
            let end = min(start + blockSize, count)
            // At most 1,024 codes of |c| <= 127 per block: their squares sum within Int32.
            var squares: Int32 = 0
            for index in start..<end { squares &+= Int32(codes[index]) * Int32(codes[index]) }
            total += scale * scale * Double(squares)
        }
        return total
    }
}

extension ValueCodec where Self == Int8Codec {
    /// Block-quantised int8 with one fp32 scale per `blockSize` values (stochastic rounding).
    public static func int8(blockSize: Int = Int8Codec.defaultBlockSize) -> Int8Codec { Int8Codec(blockSize: blockSize) }
}
