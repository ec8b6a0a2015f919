/// 16 random bytes naming one message: the dedupe key the coordinator remembers so a
/// redelivered update is never counted twice.
public struct UpdateID: Hashable, Sendable, CustomStringConvertible {
    /// The 16 bytes, in wire order.
    public let bytes: [UInt8]

    /// Wraps exactly 16 bytes; returns `nil` for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// A fresh random id (version-4-UUID-like randomness: 128 bits from `generator`).
    public static func random(using generator: inout some RandomNumberGenerator) -> UpdateID {
        var bytes = [UInt8](repeating: 0, count: 16)
        for half in 0..<2 {
            let word = generator.next()
            for byte in 0..<8 { bytes[half * 8 + byte] = UInt8(truncatingIfNeeded: word >> (8 * byte)) }
        }
        return UpdateID(uncheckedBytes: bytes)
    }

    /// A fresh id from the system generator.
    public static func random() -> UpdateID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// Parses 32 hex digits (the AMQP message id form).
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 {
            guard let high = Self.nibble(digits[2 * index]), let low = Self.nibble(digits[2 * index + 1]) else {
                return nil
            }
            bytes[index] = high << 4 | low
        }
        self.bytes = bytes
    }

    init(uncheckedBytes: [UInt8]) { self.bytes = uncheckedBytes }

    /// 32 lowercase hex digits: the AMQP message id.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(32)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
