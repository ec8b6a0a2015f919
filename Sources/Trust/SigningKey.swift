import Crypto
import CryptoExtras
import FedCore
import Foundation

/// An Ed25519 private key: the federation's issuer key, the coordinator's model key, or
/// one client's key. It describes itself by its public key's fingerprint only, so a key
/// that ends up in a log line or an error never leaks.
public struct SigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let key: Curve25519.Signing.PrivateKey

    /// A fresh random key.
    public init() {
        key = Curve25519.Signing.PrivateKey()
    }

    /// The key of a 32-byte seed (RFC 8032's private key): the wire-format test vector,
    /// and the load test's throwaway keys.
    /// - Throws: `TrustError.malformedCredential` never; `.keyFile` when the seed is not 32 bytes.
    public init(seed: [UInt8]) throws(TrustError) {
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed) } catch {
            throw .keyFile(path: "seed", reason: "an Ed25519 seed is 32 bytes, got \(seed.count)")
        }
    }

    /// Reads a PKCS#8 PEM private key block (what `openssl genpkey -algorithm ed25519` writes).
    public init(pem: String) throws(TrustError) {
        do { key = try Curve25519.Signing.PrivateKey(pemRepresentation: pem) } catch {
            throw .keyFile(path: "", reason: "not an Ed25519 private key in PKCS#8 PEM")
        }
    }

    public var publicKey: VerifyingKey { VerifyingKey(key.publicKey) }

    /// The 64-byte Ed25519 signature of `statement`.
    public func sign(_ statement: SignedStatement) -> [UInt8] {
        // Signing with a valid key over bytes in memory cannot fail (BoringSSL's ED25519_sign).
        Array(try! key.signature(for: statement.bytes))
    }

    /// PKCS#8 PEM, for a key file (written 0600 by `KeyFile`).
    public var pemRepresentation: String { key.pemRepresentation }

    public var description: String { "Ed25519 private key of \(publicKey.fingerprint)" }
    public var debugDescription: String { description }
}

/// An Ed25519 public key: what a worker holds of the issuer, a subscriber of the
/// coordinator, and a credential of its client.
public struct VerifyingKey: Sendable, Hashable, CustomStringConvertible {
    private let key: Curve25519.Signing.PublicKey
    /// The 32 bytes (RFC 8032's encoding), as a credential carries them.
    public let rawBytes: [UInt8]

    init(_ key: Curve25519.Signing.PublicKey) {
        self.key = key
        rawBytes = Array(key.rawRepresentation)
    }

    /// - Throws: `TrustError.malformedCredential` unless `rawBytes` is a valid 32-byte key.
    public init(rawBytes: [UInt8]) throws(TrustError) {
        guard rawBytes.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawBytes) else {
            throw .malformedCredential("an Ed25519 public key is 32 valid bytes")
        }
        self.init(key)
    }

    /// Reads an SPKI PEM (`-----BEGIN PUBLIC KEY-----`, what `openssl pkey -pubout` writes).
    public init(pem: String) throws(TrustError) {
        do { self.init(try Curve25519.Signing.PublicKey(pemRepresentation: pem)) } catch {
            throw .keyFile(path: "", reason: "not an Ed25519 public key in SPKI PEM")
        }
    }

    /// Whether `signature` is this key's Ed25519 signature of `statement`.
    public func verifies(_ signature: [UInt8], of statement: SignedStatement) -> Bool {
        signature.count == 64 && key.isValidSignature(signature, for: statement.bytes)
    }

    public var pemRepresentation: String { key.pemRepresentation }

    /// `sha256:` and the first 16 hex digits of SHA-256 over the 32 key bytes: enough for
    /// an operator to tell keys apart in `fedq keys show` and logs.
    public var fingerprint: String {
        "sha256:" + Hex.encode(Digest.sha256(rawBytes).prefix(8))
    }

    public var description: String { fingerprint }

    public static func == (lhs: VerifyingKey, rhs: VerifyingKey) -> Bool { lhs.rawBytes == rhs.rawBytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawBytes) }
}
