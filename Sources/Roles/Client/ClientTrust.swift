import Trust

/// What a fleet's clients sign their updates with and check model versions against
/// (docs/signing.md): `fedq fleet`/`fedq client` load it from `--credentials DIR` and
/// `--coordinator-key FILE`; without either, clients run unsigned and take any model.
public struct ClientTrust: Sendable {
    /// Each client's key and credential, by client id (empty: updates go out unsigned).
    public var identities: [UInt64: ClientIdentity]
    /// The coordinator's public key (nil: model versions are taken unverified).
    public var coordinatorKey: VerifyingKey?

    public init(identities: [UInt64: ClientIdentity] = [:], coordinatorKey: VerifyingKey? = nil) {
        self.identities = identities
        self.coordinatorKey = coordinatorKey
    }

    public static let none = ClientTrust()
}
