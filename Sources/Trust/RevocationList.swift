import FedCore
import Synchronization

/// Credentials the federation withdrew before their `notAfter`: a client that left, a
/// device that was lost, a key that leaked. A credential names a client and a key and
/// carries no serial number, so the list names those:
///
/// ```
/// # fedq revocation list: one entry a line, `#` starts a comment
/// client 1234                  # every credential of client 1234
/// key 3b6a27bc…(64 hex digits) # the credentials of this Ed25519 public key only
/// ```
///
/// `client` shuts a client out whatever key it holds (a member that left); `key` withdraws
/// one credential and lets the client back with a new key under a new credential (a lost
/// device). `fedq keys revoke` appends either. Checked on top of the issuer's signature and
/// expiry (`UpdateAuthenticator`), so a list never admits anyone.
public struct RevocationList: Sendable, Equatable {
    public private(set) var clients: Set<UInt64> = []
    /// Raw 32-byte Ed25519 public keys.
    public private(set) var keys: Set<[UInt8]> = []

    public init(clients: Set<UInt64> = [], keys: Set<[UInt8]> = []) {
        self.clients = clients
        self.keys = keys
    }

    /// Parses the text format above.
    /// - Throws: `TrustError.revocationList` naming the first line that is neither blank, a
    ///   comment, `client <decimal id>` nor `key <64 hex digits>`.
    public init(text: String) throws(TrustError) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.prefix { $0 != "#" }
            let words = line.split(whereSeparator: \.isWhitespace)
            guard let kind = words.first else { continue }
            func refuse(_ why: String) -> TrustError { .revocationList(line: index + 1, reason: why) }
            guard words.count == 2 else { throw refuse("expected `client ID` or `key HEX`, got \(words.count) words") }
            switch kind {
            case "client":
                guard let id = UInt64(words[1]) else { throw refuse("`\(words[1])` is not a client id (a decimal number)") }
                clients.insert(id)
            case "key":
                guard let key = Hex.decode(words[1]), key.count == 32 else {
                    throw refuse("a key is 64 hex digits (an Ed25519 public key), got \(words[1].count) characters")
                }
                keys.insert(key)
            default:
                throw refuse("`\(kind)` is neither `client` nor `key`")
            }
        }
    }

    public var isEmpty: Bool { clients.isEmpty && keys.isEmpty }

    /// Whether `credential` is withdrawn: its client, or its key, is on the list.
    public func revokes(_ credential: ClientCredential) -> Bool {
        clients.contains(credential.clientID) || keys.contains(credential.publicKey.rawBytes)
    }

    /// The line that revokes `credential`'s key (`fedq keys revoke --credential`).
    public static func line(revokingKeyOf credential: ClientCredential) -> String {
        "key " + Hex.encode(credential.publicKey.rawBytes)
    }
}

/// The revocation list a process checks credentials against now, shared by its workers and
/// replaced whole when the operator changes the file (`RevocationFile` in CLISupport). A
/// lock, not an actor: the check sits on the per-update path of value types that do no I/O.
public final class Revocations: Sendable {
    private let list: Mutex<RevocationList>

    public init(_ list: RevocationList = RevocationList()) { self.list = Mutex(list) }

    public var current: RevocationList { list.withLock { $0 } }

    /// Whether the current list withdraws `credential`: checked under the lock, without
    /// copying the list out (the per-update path).
    public func revokes(_ credential: ClientCredential) -> Bool { list.withLock { $0.revokes(credential) } }

    public func replace(with new: RevocationList) { list.withLock { $0 = new } }
}
