/// IEEE 754 binary32, lossless: `count` little-endian f32 (wire id 1).
public struct FP32Codec: ParameterlessCodec {
    public static let wireID: UInt8 = 1
    public static let name = "fp32"
    public static let syntax = "fp32"

    public init() {}

    public var isExact: Bool { true }

    public func encodedByteCount(count: Int) -> Int { 4 * count }

    public func encode(_ values: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer, random: inout VectorRandom) {
        guard let source = values.baseAddress, let target = output.baseAddress else { return }
        target.copyMemory(from: source, byteCount: 4 * values.count)
    }

    public func validate(_ payload: UnsafeRawPointer, count: Int) throws(WireError) {
        if let index = FiniteScan.firstNonFiniteFloat(payload, count: count) { throw .nonFinite(field: .values, index: index) }
    }

    /// A plain loop with unaligned loads, which LLVM vectorises.
    public func accumulate(_ payload: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>, weight: Float) {
        for index in 0..<count {
            output[index] += weight * payload.loadUnaligned(fromByteOffset: 4 &* index, as: Float.self)
        }
    }

    /// Straight off the payload, without a decoded copy.
    public func squaredNorm(_ payload: UnsafeRawPointer, count: Int) -> Double {
        var total = 0.0
        for index in 0..<count {
            let value = Double(payload.loadUnaligned(fromByteOffset: 4 &* index, as: Float.self))
            total += value * value
        }
        return total
    }
}

extension ValueCodec where Self == FP32Codec {
    /// IEEE 754 binary32 (lossless).
    public static var fp32: FP32Codec { FP32Codec() }
}
