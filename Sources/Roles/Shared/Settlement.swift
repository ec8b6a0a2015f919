import FedCore
import Messaging
import Wire

/// How a refused message is named on its way from a worker (which knows why it refused
/// it) to the coordinator (which keeps the run's books).
enum Settlement {
    /// The id a refused message is accounted under: its own update id when the AMQP
    /// message id carries one, else a digest of its bytes, so the same poison message
    /// redelivered after a crash is still counted once (docs/wire-format.md).
    static func updateID(messageID: String?, body: [UInt8]) -> UpdateID {
        if let messageID, let id = UpdateID(hex: messageID) { return id }
        return fnv1a128(body)
    }

    /// 128-bit FNV-1a: a stable name for bytes that carry none.
    static func fnv1a128(_ bytes: [UInt8]) -> UpdateID {
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013B
        var hash: UInt128 = 0x6C62_272E_07BB_0142_62B8_2175_6295_C58D
        for byte in bytes {
            hash ^= UInt128(byte)
            hash &*= prime
        }
        return UpdateID(high: UInt64(truncatingIfNeeded: hash >> 64), low: UInt64(truncatingIfNeeded: hash))
    }
}
