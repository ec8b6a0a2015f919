/// fp16 ⇄ fp32 conversion on bit patterns, in SIMD lanes.
///
/// The build targets baseline x86-64 (no F16C), where `Float(Float16)` is a library call per
/// value; these integer/float tricks (after F. Giesen's `half_to_float_fast2` and
/// `float_to_half_fast3_rtne`) vectorise instead. Inputs are finite by contract: encoders check
/// range first and decoders reject exponent 31 (Inf/NaN) before converting.
enum Float16Bits {
    /// 2^112: rescales a half's exponent field, shifted into float position, to the float bias.
    private static let exponentAdjust = Float(bitPattern: 0x7780_0000)

    /// Converts 8 finite halves to floats exactly (subnormals included).
    @inline(__always)
    static func toFloat(_ halves: SIMD8<UInt16>) -> SIMD8<Float> {
        let bits = SIMD8<UInt32>(truncatingIfNeeded: halves)
        let sign = (bits & 0x8000) &<< 16
        let magnitude = unsafeBitCast((bits & 0x7FFF) &<< 13, to: SIMD8<Float>.self) * exponentAdjust
        return unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<UInt32>.self) | sign, to: SIMD8<Float>.self)
    }

    /// Scalar form of ``toFloat(_:)`` for the sparse path.
    @inline(__always)
    static func toFloat(_ half: UInt16) -> Float {
        let bits = UInt32(half)
        let magnitude = Float(bitPattern: (bits & 0x7FFF) << 13) * exponentAdjust
        return Float(bitPattern: magnitude.bitPattern | ((bits & 0x8000) << 16))
    }

    /// Rounds 8 floats with |x| <= 65504 to the nearest half, ties to even.
    @inline(__always)
    static func toHalf(_ values: SIMD8<Float>) -> SIMD8<UInt16> {
        let bits = unsafeBitCast(values, to: SIMD8<UInt32>.self)
        let sign = bits & 0x8000_0000
        let magnitude = bits ^ sign
        // Results that are half subnormals: let the float adder do the rounding by adding 0.5,
        // which puts the half mantissa in the low bits.
        let denormMagic: UInt32 = 126 << 23
        let subnormal =
            unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<Float>.self) + Float(bitPattern: denormMagic), to: SIMD8<UInt32>.self)
            &- denormMagic
        // Normal results: rebias the exponent and round the 13 dropped bits to nearest even.
        let mantissaOdd = (magnitude &>> 13) & 1
        let normal = (magnitude &+ (UInt32(bitPattern: (15 - 127) << 23) &+ 0xFFF) &+ mantissaOdd) &>> 13
        let isSubnormal = magnitude .< (113 << 23)
        let half = normal.replacing(with: subnormal, where: isSubnormal) | (sign &>> 16)
        return SIMD8<UInt16>(truncatingIfNeeded: half)
    }
}
