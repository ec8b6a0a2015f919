/// fp16 ⇄ fp32 conversion on bit patterns.
///
/// The build targets baseline x86-64 (no F16C), where `Float(Float16)` is a library call per
/// value; these branch-free integer/float tricks (decoding: exponent rebias; encoding: F. Giesen's
/// `float_to_half_fast3_rtne`) are plain scalar code that LLVM vectorises inside the callers'
/// loops. Inputs are finite by contract: encoders check range first and decoders reject
/// exponent 31 (Inf/NaN) before converting.
enum Float16Bits {
    /// Converts a finite half to a float exactly (subnormals included).
    ///
    /// Normal halves only need their exponent rebiased (an integer add). Subnormal halves are
    /// m·2^-24, computed from an int→float conversion so no denormal float ever enters an
    /// arithmetic unit: multiplying denormals (the classic `× 2^112` trick) takes a microcode
    /// assist and made fp16 decoding 2× slower on real deltas, ~10% of whose halves are subnormal.
    @inline(__always)
    static func toFloat(_ half: UInt16) -> Float {
        let bits = UInt32(half)
        let normal = Float(bitPattern: ((bits & 0x7FFF) &<< 13) &+ (112 << 23))
        let subnormal = Float(Int32(bitPattern: bits & 0x3FF)) * 0x1p-24
        let magnitude = bits & 0x7C00 == 0 ? subnormal : normal
        return bits & 0x8000 != 0 ? -magnitude : magnitude
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
