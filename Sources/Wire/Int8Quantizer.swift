/// Block-wise int8 quantisation with stochastic rounding.
///
/// Layout of `count` values with block size B: `ceil(count/B)` fp32 scales, then `count` int8
/// codes. Code q of block b decodes to `q * scale[b]`; `scale = max|x| / 127` over the block.
/// q = floor(x/scale + u) with u uniform on [0, 1), so E[q·scale] = x: the quantiser is unbiased
/// and quantisation noise averages out across clients instead of biasing the model.
///
/// The loops are plain scalar code over raw pointers on purpose: LLVM vectorises them, while
/// Swift's generic SIMD masks (`clamped`, `replacing(with:where:)`) compile to scalar code on
/// this target and were 20× slower.
enum Int8Quantizer {
    /// Largest scale the decoder accepts: any larger and 127·scale could overflow to infinity.
    static let maxScale = Float.greatestFiniteMagnitude / 128

    static func encodedByteCount(count: Int, blockSize: Int) -> Int {
        4 * blockCount(count: count, blockSize: blockSize) + count
    }

    static func blockCount(count: Int, blockSize: Int) -> Int { (count + blockSize - 1) / blockSize }

    /// Quantises finite `values` into `output` (which has exactly ``encodedByteCount(count:blockSize:)`` bytes).
    static func encode(
        _ values: UnsafeBufferPointer<Float>, blockSize: Int, into output: UnsafeMutableRawBufferPointer,
        random: inout VectorRandom
    ) {
        let count = values.count
        let blocks = blockCount(count: count, blockSize: blockSize)
        guard let source = values.baseAddress, let base = output.baseAddress else { return }
        let codes = (base + 4 * blocks).assumingMemoryBound(to: UInt8.self)
        let noise = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)
        defer { noise.deallocate() }
        for block in 0..<blocks {
            let start = block * blockSize
            let length = min(blockSize, count - start)
            let input = source + start
            // Largest magnitude via the bit patterns: for finite floats, unsigned order of
            // |x|'s bits is the order of |x|, and integer max vectorises where Float max does not.
            var largest: UInt32 = 0
            for index in 0..<length { largest = max(largest, input[index].bitPattern & 0x7FFF_FFFF) }
            let blockMax = Float(bitPattern: largest)
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
}
