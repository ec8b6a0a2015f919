/// The 16-byte identity of one message: for a client update, the dedupe key carried from
/// the client through the worker's partial to the coordinator, so that every published
/// update is found exactly once in applied ∪ rejected ∪ dropped-stale. On the wire it is
/// the envelope's 16 id bytes and, as 32 lowercase hex digits, the AMQP `message_id`.
///
/// Stored as two words so hashing, comparing and dedupe sets cost two integer operations.
public struct UpdateID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The two halves of the 128-bit identity, most significant first.
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads the identity from exactly 16 bytes, big-endian (as it travels on the wire).
    /// - Throws: `UpdateIDError.wrongByteCount` for any other length.
    public init(bytes: some Collection<UInt8>) throws(UpdateIDError) {
        guard bytes.count == 16 else { throw .wrongByteCount(bytes.count) }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// Parses 32 hex digits (the AMQP message id form); nil for anything else.
    public init?(hex: String) {
        guard hex.utf8.count == 32, let bytes = Hex.decode(hex), let id = try? UpdateID(bytes: bytes) else { return nil }
        self = id
    }

    /// A fresh random identity from the system generator.
    public static func random() -> UpdateID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A random identity from the given generator, so seeded simulations are repeatable.
    public static func random(using generator: inout some RandomNumberGenerator) -> UpdateID {
        UpdateID(high: generator.next(), low: generator.next())
    }

    /// The 16 bytes, big-endian (wire order).
    public var bytes: [UInt8] {
        (0..<16).map { index in
            let word = index < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> (UInt64(7 - index % 8) * 8))
        }
    }

    /// 32 lowercase hex digits: the AMQP message id, and the form in logs and `updates.csv`.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    public static func < (lhs: UpdateID, rhs: UpdateID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// Why bytes could not be read as an `UpdateID`.
public enum UpdateIDError: Error, Equatable, CustomStringConvertible {
    case wrongByteCount(Int)

    public var description: String {
        switch self {
        case .wrongByteCount(let count): "an update id has 16 bytes, got \(count)"
        }
    }
}

extension ByteReader {
    /// The 16-byte id at an offset the caller has bounds-checked (ids are big-endian on the wire).
    @inline(__always)
    public func updateID(at offset: Int) -> UpdateID {
        UpdateID(high: UInt64(bigEndian: read(at: offset)), low: UInt64(bigEndian: read(at: offset + 8)))
    }
}
