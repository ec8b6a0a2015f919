/// Unsigned LEB128 varints (7 bits per byte, high bit = more), used for top-k index gaps.
enum Varint {
    /// Appends `value` (at most 5 bytes for a UInt32).
    static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// Reads one varint from `bytes[offset..<end]`, advancing `offset`; `nil` when it runs past
    /// `end` or does not fit in 32 bits.
    @inline(__always)
    static func read(_ bytes: UnsafeRawPointer, offset: inout Int, end: Int) -> UInt32? {
        var value: UInt32 = 0
        var shift: UInt32 = 0
        while offset < end {
            let byte = bytes.load(fromByteOffset: offset, as: UInt8.self)
            offset &+= 1
            if shift == 28 && byte > 0x0F { return nil }
            value |= UInt32(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift &+= 7
            if shift > 28 { return nil }
        }
        return nil
    }
}
