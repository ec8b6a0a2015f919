/// Why a key, a credential or a signature was not accepted: one case per check, so a
/// worker can name the check in `x-fedq-detail` (`reasonCode`) and a test can assert it.
public enum TrustError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The update carries no `x-fedq-credential` header (or not as bytes).
    case missingCredential
    /// The update carries no `x-fedq-signature` header of 64 bytes.
    case missingSignature
    /// The credential's bytes are not the `FDQC` layout (docs/wire-format.md).
    case malformedCredential(String)
    /// The issuer's signature over the credential does not verify: issued by another
    /// issuer, or altered after issuing.
    case credentialNotIssued
    /// The credential's `notAfter` (unix seconds) has passed.
    case expired(notAfter: UInt64, now: UInt64)
    /// The envelope claims another client than the credential names.
    case clientMismatch(credential: UInt64, envelope: UInt64)
    /// The message's signature does not verify under the key that should have made it:
    /// the body was altered, or another key signed it.
    case badSignature
    /// A key or credential file that cannot be read or parsed (the path, and why).
    case keyFile(path: String, reason: String)
    /// A client's private key is not the one its credential names.
    case keyDoesNotMatchCredential(clientID: UInt64)
    /// The credential is on the federation's revocation list (`RevocationList`).
    case revoked(clientID: UInt64)
    /// A revocation list's line that is not an entry (1-based line number, and why).
    case revocationList(line: Int, reason: String)

    /// A short kebab-case name of the failed check, for `x-fedq-detail` and logs.
    public var reasonCode: String {
        switch self {
        case .missingCredential: "missing-credential"
        case .missingSignature: "missing-signature"
        case .malformedCredential: "malformed-credential"
        case .credentialNotIssued: "credential-not-issued"
        case .expired: "credential-expired"
        case .clientMismatch: "client-id-mismatch"
        case .badSignature: "bad-signature"
        case .keyFile: "key-file"
        case .keyDoesNotMatchCredential: "key-does-not-match-credential"
        case .revoked: "credential-revoked"
        case .revocationList: "revocation-list"
        }
    }

    public var description: String {
        switch self {
        case .missingCredential: "no x-fedq-credential header"
        case .missingSignature: "no 64-byte x-fedq-signature header"
        case .malformedCredential(let why): "malformed credential: \(why)"
        case .credentialNotIssued: "credential not signed by this federation's issuer"
        case .expired(let notAfter, let now): "credential expired at \(notAfter) (now \(now), unix seconds)"
        case .clientMismatch(let credential, let envelope):
            "credential is client \(credential)'s, the update claims client \(envelope)"
        case .badSignature: "signature does not verify"
        case .keyFile(let path, let reason): "\(path): \(reason)"
        case .keyDoesNotMatchCredential(let id): "client \(id)'s private key does not match its credential"
        case .revoked(let id): "client \(id)'s credential is revoked"
        case .revocationList(let line, let reason): "line \(line): \(reason)"
        }
    }
}
