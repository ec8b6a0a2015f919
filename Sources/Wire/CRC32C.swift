#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum in every message trailer.
///
/// Every update a worker takes is checksummed before it is accumulated, so the checksum sits on
/// the hot path beside decode-and-accumulate. Both methods below run three independent streams
/// (three segments checksummed side by side, then joined with precomputed "advance over N zero
/// bytes" tables), because one stream is bound by its own dependency chain:
/// - on x86-64 the SSE4.2 `crc32` instruction (latency 3, one per cycle), ~22 GB/s here against
///   ~10 GB/s for a single stream (the package builds x86-64 code with `-msse4.2`, a subset of the
///   AVX2 it already requires);
/// - elsewhere slicing-by-8 tables, ~6 GB/s.
public enum CRC32C {
    /// Checksum of `bytes`, continuing from `crc` (pass the result of an earlier call to checksum
    /// a message in pieces).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        #if arch(x86_64)
        hardwareChecksum(bytes, continuing: crc)
        #else
        tableChecksum(bytes, continuing: crc)
        #endif
    }

    /// Checksum of an array or array slice (read in place) or any other byte sequence.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        bytes.withContiguousStorageIfAvailable { checksum(UnsafeRawBufferPointer($0)) } ?? checksum(Array(bytes))
    }

    #if arch(x86_64)
    /// Bytes per stream segment of the instruction method: long enough that joining the streams
    /// (eight table lookups) is ~2% of a round.
    static let hardwareSegment = 2048

    static func hardwareChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        threeStreams(
            bytes, continuing: crc, segment: hardwareSegment, join: hardwareJoin,
            word: { UInt32(truncatingIfNeeded: _mm_crc32_u64(UInt64($0), $1)) }, byte: { _mm_crc32_u8($0, $1) })
    }

    private static let hardwareJoin = StreamJoin(segment: hardwareSegment)
    #endif

    /// Bytes per stream segment of the table method.
    static let tableSegment = 512

    /// The portable method: slicing-by-8 (eight independent lookups per 8 bytes) over three
    /// streams.
    static func tableChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        slicingTables.withUnsafeBufferPointer { tables in
            let table = tables.baseAddress!
            return threeStreams(
                bytes, continuing: crc, segment: tableSegment, join: tableJoin,
                word: { slice8(table, $0, $1) }, byte: { table[Int(($0 ^ UInt32($1)) & 0xFF)] ^ ($0 >> 8) })
        }
    }

    private static let tableJoin = StreamJoin(segment: tableSegment)

    /// The loop both methods share: rounds of three `segment`-byte streams checksummed side by
    /// side and joined, then the tail 8 bytes and 1 byte at a time. `word` and `byte` advance
    /// the (pre-inverted) register over a little-endian 64-bit word and over one byte.
    @inline(__always)
    private static func threeStreams(
        _ bytes: UnsafeRawBufferPointer, continuing crc: UInt32, segment: Int, join: StreamJoin,
        word: (UInt32, UInt64) -> UInt32, byte: (UInt32, UInt8) -> UInt32
    ) -> UInt32 {
        guard let base = bytes.baseAddress else { return crc }
        let count = bytes.count
        var state = ~crc
        var offset = 0
        while count - offset >= 3 * segment {
            var first = state
            var second: UInt32 = 0
            var third: UInt32 = 0
            var step = 0
            while step < segment {
                first = word(first, base.loadUnaligned(fromByteOffset: offset &+ step, as: UInt64.self))
                second = word(second, base.loadUnaligned(fromByteOffset: offset &+ segment &+ step, as: UInt64.self))
                third = word(third, base.loadUnaligned(fromByteOffset: offset &+ 2 &* segment &+ step, as: UInt64.self))
                step &+= 8
            }
            state = join.advance(first, second) ^ third
            offset &+= 3 &* segment
        }
        while count - offset >= 8 {
            state = word(state, base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset &+= 8
        }
        while offset < count {
            state = byte(state, base.load(fromByteOffset: offset, as: UInt8.self))
            offset &+= 1
        }
        return ~state
    }

    /// Advances the register over 8 message bytes.
    @inline(__always)
    private static func slice8(_ table: UnsafePointer<UInt32>, _ state: UInt32, _ word: UInt64) -> UInt32 {
        let low = UInt32(truncatingIfNeeded: UInt64(littleEndian: word)) ^ state
        let high = UInt32(truncatingIfNeeded: UInt64(littleEndian: word) >> 32)
        return table[7 &* 256 &+ Int(low & 0xFF)] ^ table[6 &* 256 &+ Int((low >> 8) & 0xFF)]
            ^ table[5 &* 256 &+ Int((low >> 16) & 0xFF)] ^ table[4 &* 256 &+ Int(low >> 24)]
            ^ table[3 &* 256 &+ Int(high & 0xFF)] ^ table[2 &* 256 &+ Int((high >> 8) & 0xFF)]
            ^ table[1 &* 256 &+ Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
    }

    /// Eight slicing tables: table k advances over a byte followed by k zero bytes.
    static let slicingTables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = table[(slice - 1) * 256 + byte]
                table[slice * 256 + byte] = table[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return table
    }()
}

/// Joins three streams of `segment` bytes each: advancing a register over N zero bytes is linear,
/// so it is tabulated per byte of the register (4 × 256 entries for N = segment and for
/// N = 2·segment).
struct StreamJoin: Sendable {
    private let overOne: [UInt32]
    private let overTwo: [UInt32]

    /// Builds the tables by doubling from one zero byte, so any power-of-two segment costs
    /// log2(segment) rounds of 1,024 entries.
    init(segment: Int) {
        precondition(segment > 0 && segment & (segment - 1) == 0, "segment must be a power of two")
        var table = (0..<4 * 256).map { entry in
            let state = UInt32(entry & 0xFF) << (8 * UInt32(entry >> 8))
            return CRC32C.slicingTables[Int(state & 0xFF)] ^ (state >> 8)
        }
        var covered = 1
        while covered < segment {
            table = table.map { Self.apply(table, $0) }
            covered *= 2
        }
        overOne = table
        overTwo = table.map { Self.apply(table, $0) }
    }

    /// The register of stream one advanced over two segments, xored with stream two's advanced
    /// over one: what is left to xor with stream three's register.
    @inline(__always)
    func advance(_ first: UInt32, _ second: UInt32) -> UInt32 {
        Self.apply(overTwo, first) ^ Self.apply(overOne, second)
    }

    @inline(__always)
    private static func apply(_ table: [UInt32], _ state: UInt32) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            table[Int(state & 0xFF)] ^ table[256 &+ Int((state >> 8) & 0xFF)]
                ^ table[512 &+ Int((state >> 16) & 0xFF)] ^ table[768 &+ Int(state >> 24)]
        }
    }
}
