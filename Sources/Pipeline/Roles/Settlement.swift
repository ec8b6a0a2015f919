import Aggregation
import Wire

/// How a refused or dropped update is named and counted on its way from a worker
/// (which knows why it refused it) to the coordinator (which keeps the run's books).
enum Settlement {
    /// The id a refused message is accounted under: its own update id when the AMQP
    /// message id carries one, else a digest of its bytes, so the same poison message
    /// redelivered after a crash is still counted once (docs/wire-format.md).
    static func updateID(of delivery: Delivery) -> Wire.UpdateID {
        if let messageID = delivery.properties.messageID, let id = Wire.UpdateID(hex: messageID) { return id }
        return Wire.UpdateID(bytes: fnv1a128(delivery.body))!
    }

    /// 128-bit FNV-1a, little-endian: a stable name for bytes that carry none.
    static func fnv1a128(_ bytes: [UInt8]) -> [UInt8] {
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013B
        var hash: UInt128 = 0x6C62_272E_07BB_0142_62B8_2175_6295_C58D
        for byte in bytes {
            hash ^= UInt128(byte)
            hash &*= prime
        }
        return (0..<16).map { UInt8(truncatingIfNeeded: hash >> (8 * $0)) }
    }
}

extension SettlementCode {
    init(_ error: WireError) {
        switch error {
        case .specHashMismatch, .parameterCountMismatch: self = .wrongModel
        case .nonFinite, .invalidScale: self = .nonFinite
        default: self = .malformed
        }
    }

    /// The summary's category: stale drops are counted apart from rejections.
    var rejectionReason: RejectionReason? {
        switch self {
        case .stale: nil
        case .malformed: .malformed
        case .wrongModel: .wrongModel
        case .nonFinite: .nonFinite
        case .outOfBounds: .outOfBounds
        case .duplicate: .duplicate
        case .wrongRound: .wrongRound
        }
    }
}
