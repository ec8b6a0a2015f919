import FedCore

/// A worker's check that an update comes from a client the issuer admitted: the
/// credential is the issuer's, it has not expired, and the credential's key signed the
/// body. The envelope's client id is compared afterwards (`ClientCredential.checkSpeaks`),
/// once the envelope is decoded: signatures are checked first so that bytes nobody
/// admitted never reach the decoder.
///
/// A value type with no I/O; the clock is passed in. Credentials that verified are kept
/// (at most `capacity`, the oldest forgotten first), so a client's second and later
/// updates cost one Ed25519 verification, not two. Only issued credentials enter the
/// cache, so no one without the issuer's key can flush it; a failed one costs its
/// sender's verification every time, as it should.
///
/// A revoked credential (`revocations`) is refused after the cache, so a list the operator
/// changes takes effect with the next update, cached credential or not.
public struct UpdateAuthenticator: Sendable {
    public let issuer: VerifyingKey
    public let capacity: Int
    /// The process's revocation list, read at every check (nil: none).
    public let revocations: Revocations?
    /// Verified credentials by their bytes.
    private var verified: RecentWindow<[UInt8], ClientCredential>

    public init(issuer: VerifyingKey, revocations: Revocations? = nil, capacity: Int = 16_384) {
        self.issuer = issuer
        self.revocations = revocations
        self.capacity = max(1, capacity)
        verified = RecentWindow(capacity: self.capacity)
    }

    /// Credentials held now (tests: the bound holds).
    public var cachedCredentials: Int { verified.count }

    /// Checks the credential and the signature of one update's `body`.
    /// - Returns: the credential, whose client id the caller compares with the envelope's.
    /// - Throws: `TrustError`: missing headers, malformed or unissued credential, expired,
    ///   revoked, bad signature.
    public mutating func authenticate(
        body: [UInt8], credential credentialBytes: [UInt8]?, signature: [UInt8]?, now: UInt64
    ) throws(TrustError) -> ClientCredential {
        try authenticate(.update(body: body), credential: credentialBytes, signature: signature, now: now)
    }

    /// The same checks for any statement a client signs (an update, a statistics message).
    public mutating func authenticate(
        _ statement: SignedStatement, credential credentialBytes: [UInt8]?, signature: [UInt8]?, now: UInt64
    ) throws(TrustError) -> ClientCredential {
        guard let credentialBytes else { throw .missingCredential }
        guard let signature, signature.count == 64 else { throw .missingSignature }
        let credential = try admitted(credentialBytes)
        try credential.checkValid(at: now)
        if let revocations, revocations.revokes(credential) { throw .revoked(clientID: credential.clientID) }
        guard credential.publicKey.verifies(signature, of: statement) else { throw .badSignature }
        return credential
    }

    private mutating func admitted(_ bytes: [UInt8]) throws(TrustError) -> ClientCredential {
        if let known = verified[bytes] { return known }
        let credential = try ClientCredential(bytes: bytes)
        guard credential.isIssued(by: issuer) else { throw .credentialNotIssued }
        verified.insert(bytes, credential)
        return credential
    }
}
