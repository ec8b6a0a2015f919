/// What a client signs its updates with: its private key and the credential the issuer
/// gave its public key. Loaded from `client-<id>.key` and `client-<id>.cred`.
public struct ClientIdentity: Sendable {
    public let key: SigningKey
    public let credential: ClientCredential

    /// - Throws: `TrustError.keyDoesNotMatchCredential` when the credential names another key:
    ///   every update signed so would be refused, so it is caught at start instead.
    public init(key: SigningKey, credential: ClientCredential) throws(TrustError) {
        guard key.publicKey == credential.publicKey else { throw .keyDoesNotMatchCredential(clientID: credential.clientID) }
        self.key = key
        self.credential = credential
    }

    /// A fresh key and a credential for it (`fedq keys issue`, the load test's clients).
    public static func issue(clientID: UInt64, notAfter: UInt64, by issuer: SigningKey) -> ClientIdentity {
        let key = SigningKey()
        return try! ClientIdentity(
            key: key, credential: .issue(clientID: clientID, publicKey: key.publicKey, notAfter: notAfter, by: issuer))
    }

    /// The two header values an update carries: the credential and the signature of
    /// `SignedStatement.update(body:)`.
    public func sign(update body: [UInt8]) -> UpdateSignature {
        UpdateSignature(credential: credential.bytes, signature: key.sign(.update(body: body)))
    }

    /// The same two header values for a statistics message (`SignedStatement.statistics`).
    public func sign(statistics body: [UInt8]) -> UpdateSignature {
        UpdateSignature(credential: credential.bytes, signature: key.sign(.statistics(body: body)))
    }
}

/// An update's `x-fedq-credential` and `x-fedq-signature` values.
public struct UpdateSignature: Sendable, Equatable {
    public var credential: [UInt8]
    public var signature: [UInt8]

    public init(credential: [UInt8], signature: [UInt8]) {
        self.credential = credential
        self.signature = signature
    }
}
