/// Little-endian reads over bytes from the network or disk: at fixed offsets the caller
/// has checked (`read(at:)`), or at a cursor where every read is bounds-checked and returns
/// nil past the end, so a truncated input is a typed failure for the caller, never a trap.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    /// The integer at `offset`, little-endian, if it is wholly inside the bytes.
    @inline(__always)
    public func peek<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T? {
        guard offset >= 0, offset <= bytes.count - MemoryLayout<T>.size else { return nil }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// The integer at an offset the caller has already bounds-checked (the decoder's hot
    /// path checks a whole section's length once, then reads its fields unchecked).
    @inline(__always)
    public func read<T: FixedWidthInteger>(at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= bytes.count)
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Reads an integer at the cursor and moves past it; nil (cursor unmoved) past the end.
    @inline(__always)
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        guard let value: T = peek(at: offset) else { return nil }
        offset += MemoryLayout<T>.size
        return value
    }

    /// The next `count` bytes, copied; nil past the end.
    public mutating func read(count: Int) -> [UInt8]? {
        guard count >= 0, count <= remaining else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// The next `count` little-endian `Float`s; nil past the end.
    public mutating func readFloats(count: Int) -> [Float]? {
        guard count >= 0, count <= remaining / 4 else { return nil }
        let start = offset
        offset += 4 * count
        return (0..<count).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 4 * $0, as: UInt32.self))) }
    }
}
