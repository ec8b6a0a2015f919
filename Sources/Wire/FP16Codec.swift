/// IEEE 754 binary16, round to nearest even: `count` little-endian f16 (wire id 2).
///
/// Conversions go through ``Float16Bits`` (branch-free bit tricks LLVM vectorises; baseline
/// x86-64 has no F16C). Finite values beyond ±65504 are refused at encoding.
public struct FP16Codec: ParameterlessCodec {
    public static let wireID: UInt8 = 2
    public static let name = "fp16"
    public static let syntax = "fp16"
    /// Largest magnitude a half represents.
    static let maxMagnitude: Float = 65504

    public init() {}

    public func encodedByteCount(count: Int) -> Int { 2 * count }

    public func checkEncodable(_ values: UnsafeBufferPointer<Float>) throws(WireError) {
        if let index = values.firstIndex(where: { abs($0) > Self.maxMagnitude }) {
            throw .unencodableValue(index: index, value: values[index])
        }
    }

    public func encode(_ values: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer, random: inout VectorRandom) {
        guard let source = values.baseAddress, let target = output.baseAddress else { return }
        for index in 0..<values.count {
            target.storeBytes(of: Float16Bits.toHalf(source[index]).littleEndian, toByteOffset: 2 &* index, as: UInt16.self)
        }
    }

    public func validate(_ payload: UnsafeRawPointer, count: Int) throws(WireError) {
        if let index = FiniteScan.firstNonFiniteHalf(payload, count: count) { throw .nonFinite(field: .values, index: index) }
    }

    public func accumulate(_ payload: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>, weight: Float) {
        for index in 0..<count {
            output[index] += weight * Float16Bits.toFloat(payload.loadUnaligned(fromByteOffset: 2 &* index, as: UInt16.self))
        }
    }
}

extension ValueCodec where Self == FP16Codec {
    /// IEEE 754 binary16, round to nearest even.
    public static var fp16: FP16Codec { FP16Codec() }
}
