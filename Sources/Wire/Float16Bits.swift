/// fp16 ⇄ fp32 conversion on bit patterns.
///
/// The build targets baseline x86-64 (no F16C), where `Float(Float16)` is a library call per
/// value; these branch-free integer/float tricks (after F. Giesen's `half_to_float_fast2` and
/// `float_to_half_fast3_rtne`) are plain scalar code that LLVM vectorises inside the callers'
/// loops. Inputs are finite by contract: encoders check range first and decoders reject
/// exponent 31 (Inf/NaN) before converting.
enum Float16Bits {
    /// 2^112: rescales a half's exponent field, shifted into float position, to the float bias.
    private static let exponentAdjust = Float(bitPattern: 0x7780_0000)

    /// Converts a finite half to a float exactly (subnormals included).
    @inline(__always)
    static func toFloat(_ half: UInt16) -> Float {
        let bits = UInt32(half)
        let magnitude = Float(bitPattern: (bits & 0x7FFF) &<< 13) * exponentAdjust
        return Float(bitPattern: magnitude.bitPattern | ((bits & 0x8000) &<< 16))
    }

    /// Rounds a float with |x| <= 65504 to the nearest half, ties to even.
    @inline(__always)
    static func toHalf(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = bits & 0x8000_0000
        let magnitude = bits ^ sign
        // Half subnormals: adding 0.5 lets the float adder round, leaving the mantissa in the low bits.
        let denormMagic: UInt32 = 126 << 23
        let subnormal = (Float(bitPattern: magnitude) + Float(bitPattern: denormMagic)).bitPattern &- denormMagic
        // Normal halves: rebias the exponent and round the 13 dropped bits to nearest even.
        let mantissaOdd = (magnitude &>> 13) & 1
        let normal = (magnitude &+ (UInt32(bitPattern: (15 - 127) << 23) &+ 0xFFF) &+ mantissaOdd) &>> 13
        let half = (magnitude < (113 << 23) ? subnormal : normal) | (sign &>> 16)
        return UInt16(truncatingIfNeeded: half)
    }
}
