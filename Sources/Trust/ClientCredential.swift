/// The issuer's statement "the holder of this public key is client `clientID` until
/// `notAfter`": 117 bytes a client sends with every update (`x-fedq-credential`).
///
/// ```
/// 0   4  magic "FDQC"
/// 4   1  version = 1
/// 5   8  clientID, u64 LE
/// 13 32  the client's Ed25519 public key
/// 45  8  notAfter, u64 LE, unix seconds
/// 53 64  the issuer's Ed25519 signature over bytes 0..<53
/// ```
///
/// It lets 100,000 devices join without 100,000 broker users or a key registry: a worker
/// only needs the issuer's public key. Why not a JWT: it is checked on the hot path, per
/// update, so a fixed layout read at fixed offsets beats parsing base64url JSON with an
/// `alg` header to police; every Ed25519 library can produce it (the layout is the
/// whole specification); and it is one statement of three fields, not a claims language.
public struct ClientCredential: Sendable, Hashable {
    public static let magic: [UInt8] = Array("FDQC".utf8)
    public static let formatVersion: UInt8 = 1
    /// The bytes the issuer signs.
    static let signedByteCount = 53
    public static let byteCount = signedByteCount + 64

    public let clientID: UInt64
    public let publicKey: VerifyingKey
    /// Unix seconds after which it is refused.
    public let notAfter: UInt64
    /// The whole statement as sent, signature included.
    public let bytes: [UInt8]

    /// Signs a credential for `clientID`'s `publicKey` with the issuer's key.
    public static func issue(clientID: UInt64, publicKey: VerifyingKey, notAfter: UInt64, by issuer: SigningKey) -> ClientCredential {
        let signed = magic + [formatVersion] + SignedStatement.littleEndian(clientID) + publicKey.rawBytes
            + SignedStatement.littleEndian(notAfter)
        let bytes = signed + issuer.sign(SignedStatement(bytes: signed))
        return ClientCredential(clientID: clientID, publicKey: publicKey, notAfter: notAfter, bytes: bytes)
    }

    private init(clientID: UInt64, publicKey: VerifyingKey, notAfter: UInt64, bytes: [UInt8]) {
        self.clientID = clientID
        self.publicKey = publicKey
        self.notAfter = notAfter
        self.bytes = bytes
    }

    /// Reads the layout; says nothing yet about who issued it (`isIssued(by:)`).
    /// - Throws: `TrustError.malformedCredential` for another length, magic or version, or
    ///   a public key that is no Ed25519 point.
    public init(bytes: [UInt8]) throws(TrustError) {
        guard bytes.count == Self.byteCount else {
            throw .malformedCredential("\(bytes.count) bytes, expected \(Self.byteCount)")
        }
        guard Array(bytes[0..<4]) == Self.magic else { throw .malformedCredential("magic is not FDQC") }
        guard bytes[4] == Self.formatVersion else { throw .malformedCredential("version \(bytes[4]), expected 1") }
        func u64(at offset: Int) -> UInt64 {
            (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
        }
        self.init(
            clientID: u64(at: 5), publicKey: try VerifyingKey(rawBytes: Array(bytes[13..<45])), notAfter: u64(at: 45),
            bytes: bytes)
    }

    /// Whether `issuer` signed exactly these bytes.
    public func isIssued(by issuer: VerifyingKey) -> Bool {
        issuer.verifies(Array(bytes[Self.signedByteCount...]), of: SignedStatement(bytes: Array(bytes[..<Self.signedByteCount])))
    }

    /// - Throws: `TrustError.expired` once `now` (unix seconds) is past `notAfter`.
    public func checkValid(at now: UInt64) throws(TrustError) {
        guard now <= notAfter else { throw .expired(notAfter: notAfter, now: now) }
    }

    /// - Throws: `TrustError.clientMismatch` unless the credential is `clientID`'s.
    public func checkSpeaks(for clientID: UInt64) throws(TrustError) {
        guard clientID == self.clientID else { throw .clientMismatch(credential: self.clientID, envelope: clientID) }
    }
}
