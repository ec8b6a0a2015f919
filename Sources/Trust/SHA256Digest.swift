import Crypto

/// SHA-256, the one digest FedQueue's signatures and password hashes use (swift-crypto's,
/// on BoringSSL: SHA extensions where the CPU has them).
public enum Digest {
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(bytes)))
    }
}
