import FedCore

/// 128-bit FNV-1a: a stable name for bytes whose own id is not to be trusted (a refused
/// message, an abandoned chunk set). Offset basis and prime in docs/wire-format.md.
public enum FNV1a128 {
    public static func digest(_ bytes: [UInt8]) -> UpdateID {
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013B
        var hash: UInt128 = 0x6C62_272E_07BB_0142_62B8_2175_6295_C58D
        for byte in bytes {
            hash ^= UInt128(byte)
            hash &*= prime
        }
        return UpdateID(high: UInt64(truncatingIfNeeded: hash >> 64), low: UInt64(truncatingIfNeeded: hash))
    }
}
