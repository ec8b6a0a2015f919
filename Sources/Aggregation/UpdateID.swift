/// The 16-byte identity of one client update, carried from the client through the
/// worker's partial to the coordinator, so that every published update can be found
/// exactly once in applied ∪ rejected ∪ dropped-stale.
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

    /// A fresh random identity: 122 random bits are ample for a run's updates.
    public static func random() -> UpdateID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A random identity from the given generator, so seeded simulations are repeatable.
    public static func random(using generator: inout some RandomNumberGenerator) -> UpdateID {
        UpdateID(high: generator.next(), low: generator.next())
    }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] {
        (0..<16).map { index in
            let word = index < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> (UInt64(7 - index % 8) * 8))
        }
    }

    public static func < (lhs: UpdateID, rhs: UpdateID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    private static let hexDigits = Array("0123456789abcdef")

    /// 32 lowercase hex digits, the form used in logs, headers and message ids.
    public var description: String {
        String(bytes.flatMap { byte in [Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0xF)]] })
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
