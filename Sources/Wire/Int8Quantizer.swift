/// Block-wise int8 quantisation with stochastic rounding.
///
/// Layout of `count` values with block size B: `ceil(count/B)` fp32 scales, then `count` int8
/// codes. Code q of block b decodes to `q * scale[b]`; `scale = max|x| / 127` over the block.
/// q = floor(x/scale + u) with u uniform on [0, 1), so E[q·scale] = x: the quantiser is unbiased
/// and quantisation noise averages out across clients instead of biasing the model.
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
        let codes = base + 4 * blocks
        for block in 0..<blocks {
            let start = block * blockSize
            let end = min(start + blockSize, count)
            var maximum = SIMD16<Float>.zero
            var index = start
            while index + 16 <= end {
                let chunk = UnsafeRawPointer(source + index).loadUnaligned(as: SIMD16<Float>.self)
                maximum = pointwiseMax(maximum, magnitude(chunk))
                index += 16
            }
            var blockMax = maximum.max()
            while index < end {
                blockMax = max(blockMax, abs(source[index]))
                index += 1
            }
            let scale = blockMax / 127
            base.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: 4 * block, as: UInt32.self)
            let inverse: Float = blockMax > 0 ? 127 / blockMax : 0
            index = start
            while index + 16 <= end {
                let chunk = UnsafeRawPointer(source + index).loadUnaligned(as: SIMD16<Float>.self)
                let codesChunk = quantize(chunk, inverse: inverse, random: &random)
                UnsafeMutableRawPointer(codes + index).storeBytes(of: codesChunk, as: SIMD16<UInt8>.self)
                index += 16
            }
            if index < end {
                var tail = SIMD16<Float>.zero
                for lane in 0..<(end - index) { tail[lane] = source[index + lane] }
                let codesChunk = quantize(tail, inverse: inverse, random: &random)
                for lane in 0..<(end - index) { codes.storeBytes(of: codesChunk[lane], toByteOffset: index + lane, as: UInt8.self) }
            }
        }
    }

    /// |x| by clearing sign bits (SIMD vectors have no `abs`).
    @inline(__always)
    private static func magnitude(_ values: SIMD16<Float>) -> SIMD16<Float> {
        unsafeBitCast(unsafeBitCast(values, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
    }

    /// floor(x·inverse + u) as int8 bit patterns. Adding 2^23 + 127.5 makes the float adder round
    /// to an integer in the low mantissa bits (q + 128), avoiding a slow vector floor on SSE2.
    @inline(__always)
    private static func quantize(_ values: SIMD16<Float>, inverse: Float, random: inout VectorRandom) -> SIMD16<UInt8> {
        let scaled = (values * inverse).clamped(lowerBound: SIMD16(repeating: -127), upperBound: SIMD16(repeating: 127))
        let shifted = (scaled + random.nextUnitFloats()) + 8_388_735.5
        var biased = unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- 0x4B00_0000
        biased.replace(with: 1, where: biased .< 1)  // a tie at -127 may round to -128
        return SIMD16<UInt8>(truncatingIfNeeded: biased ^ 0x80)
    }
}
