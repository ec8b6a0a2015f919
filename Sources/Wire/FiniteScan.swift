/// Branch-free scans for NaN/Inf bit patterns: exponent all ones is the only case where
/// `(bits & exponentMask) + exponentLSB` carries into the top bit, so OR-ing that over the
/// vector (a loop LLVM vectorises) and testing one bit at the end checks values at memory speed.
/// Only a message that fails pays for the second pass that finds the index.
enum FiniteScan {
    static func firstNonFiniteFloat(_ base: UnsafeRawPointer, count: Int) -> Int? {
        var flags: UInt32 = 0
        for index in 0..<count { flags |= (word(base, index) & 0x7F80_0000) &+ 0x0080_0000 }
        guard flags & 0x8000_0000 != 0 else { return nil }
        return (0..<count).first { word(base, $0) & 0x7F80_0000 == 0x7F80_0000 }
    }

    static func firstNonFiniteHalf(_ base: UnsafeRawPointer, count: Int) -> Int? {
        var flags: UInt16 = 0
        for index in 0..<count { flags |= (half(base, index) & 0x7C00) &+ 0x0400 }
        guard flags & 0x8000 != 0 else { return nil }
        return (0..<count).first { half(base, $0) & 0x7C00 == 0x7C00 }
    }

    /// Payload values may sit at any byte offset (top-k values follow the varints), hence unaligned loads.
    @inline(__always)
    private static func word(_ base: UnsafeRawPointer, _ index: Int) -> UInt32 {
        base.loadUnaligned(fromByteOffset: 4 &* index, as: UInt32.self)
    }

    @inline(__always)
    private static func half(_ base: UnsafeRawPointer, _ index: Int) -> UInt16 {
        base.loadUnaligned(fromByteOffset: 2 &* index, as: UInt16.self)
    }
}
