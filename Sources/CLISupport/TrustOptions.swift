import ArgumentParser
import Logging
import Roles
import Trust

/// Signing's options (docs/signing.md), shared by every role like the others, so one
/// environment file (`FEDQ_SIGNING_KEY`, `FEDQ_ISSUER_KEY`, `FEDQ_COORDINATOR_KEY`,
/// `FEDQ_CREDENTIALS`) configures a whole deployment; each role reads the ones it uses.
/// Key files are read when the role starts: a bad one ends it with one line naming the
/// flag and the file, and a role without its keys says once what goes unauthenticated.
public struct TrustOptions: ParsableArguments {
    @Option(help: "coordinator: sign model versions with this Ed25519 private key (PKCS#8 PEM, `fedq keys init`).")
    public var signingKey: String?
    @Option(help: "worker: the issuer's public key (SPKI PEM); only updates signed under a credential it issued are aggregated (a table federation's coordinator: only such statistics count).")
    public var issuerKey: String?
    @Option(help: "worker, fleet, client, eval: the coordinator's public key; model versions it did not sign are dropped.")
    public var coordinatorKey: String?
    @Option(help: "fleet, client: directory of client-<id>.key and client-<id>.cred (`fedq keys issue`); every update is signed.")
    public var credentials: String?
    @Option(help: "coordinator, with --signing-key: a revocation list (`client ID` or `key HEX` a line, `fedq keys revoke`) sent signed to every worker on its version notices; worker, with --issuer-key: a list of its own, on top of the coordinator's. Updates (a table federation's statistics) under a credential on either are refused. Read again whenever the file changes.")
    public var revoked: String?

    public init() {}

    /// The flags `EnvironmentDefaults` fills from `FEDQ_*` variables.
    public static let environmentFlags = ["signing-key", "issuer-key", "coordinator-key", "credentials", "revoked"]

    /// The coordinator's private key, if `--signing-key` was given.
    public func loadSigningKey() throws(KeyOptionError) -> SigningKey? {
        try signingKey.map { path throws(KeyOptionError) in try load("signing-key") { () throws(TrustError) in try KeyFile.readSigningKey(at: path) } }
    }

    /// The issuer's public key, if `--issuer-key` was given.
    public func loadIssuerKey() throws(KeyOptionError) -> VerifyingKey? {
        try issuerKey.map { path throws(KeyOptionError) in try load("issuer-key") { () throws(TrustError) in try KeyFile.readVerifyingKey(at: path) } }
    }

    /// The revocation list of `--revoked`, read now, if it was given.
    public func loadRevocations() throws(KeyOptionError) -> Revocations? {
        try revoked.map { path throws(KeyOptionError) in
            Revocations(try load("revoked") { () throws(TrustError) in try RevocationFile.read(at: path) })
        }
    }

    /// Follows the `--revoked` file into `revocations` until the task is cancelled; nil
    /// without the option.
    public func followRevocations(into revocations: Revocations?, logger: Logger) -> Task<Void, any Error>? {
        guard let revoked, let revocations else { return nil }
        return Task { try await RevocationFile.watch(revoked, into: revocations, logger: logger) }
    }

    /// The coordinator's public key, if `--coordinator-key` was given.
    public func loadCoordinatorKey() throws(KeyOptionError) -> VerifyingKey? {
        try coordinatorKey.map { path throws(KeyOptionError) in
            try load("coordinator-key") { () throws(TrustError) in try KeyFile.readVerifyingKey(at: path) }
        }
    }

    /// What clients `ids` sign with and check models against: each one's key and
    /// credential from `--credentials` (none without it) and `--coordinator-key`.
    public func clientTrust(clientIDs ids: some Sequence<UInt64>) throws(KeyOptionError) -> ClientTrust {
        var identities: [UInt64: ClientIdentity] = [:]
        if let credentials {
            for id in ids {
                identities[id] = try load("credentials") { () throws(TrustError) in try KeyFile.readIdentity(directory: credentials, clientID: id) }
            }
        }
        return ClientTrust(identities: identities, coordinatorKey: try loadCoordinatorKey())
    }

    /// One warning line naming what `role` takes or sends unauthenticated, if anything.
    public func warnIfUnauthenticated(role: String, logger: Logger) {
        let missing: [String] =
            switch role {
            case "coordinator": signingKey == nil ? ["model versions go out unsigned (no --signing-key)"] : []
            case "worker":
                (issuerKey == nil ? ["updates are taken from anyone holding the broker credential (no --issuer-key)"] : [])
                    + (coordinatorKey == nil
                        ? ["version notices are not verified and the coordinator's revocation list is not taken (no --coordinator-key)"] : [])
            case "eval": coordinatorKey == nil ? ["model versions are not verified (no --coordinator-key)"] : []
            default:
                (credentials == nil ? ["updates go out unsigned (no --credentials)"] : [])
                    + (coordinatorKey == nil ? ["model versions are not verified (no --coordinator-key)"] : [])
            }
        guard !missing.isEmpty else { return }
        logger.warning("not authenticated: \(missing.joined(separator: "; ")); see docs/signing.md")
    }

    private func load<T>(_ flag: String, _ body: () throws(TrustError) -> T) throws(KeyOptionError) -> T {
        do { return try body() } catch { throw KeyOptionError(flag: flag, error: error) }
    }
}

/// A key option whose file cannot be used: printed as one line (`--issuer-key: keys/issuer.pub:
/// cannot be read`), and the command exits non-zero.
public struct KeyOptionError: Error, CustomStringConvertible {
    public var flag: String
    public var error: TrustError

    public var description: String { "--\(flag): \(error)" }
}
