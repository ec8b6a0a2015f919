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

    /// The list in its text format with one spelling per list: `client` lines by id, then
    /// `key` lines by key, no comments. What the coordinator signs and sends workers, so
    /// equal lists are equal bytes.
    public var canonicalText: String {
        let clientLines = clients.sorted().map { "client \($0)\n" }
        let keyLines = keys.map { "key " + Hex.encode($0) + "\n" }.sorted()
        return (clientLines + keyLines).joined()
    }

    /// Both lists' entries: what a worker checks when it has a file of its own and the
    /// coordinator's list.
    public func union(_ other: RevocationList) -> RevocationList {
        RevocationList(clients: clients.union(other.clients), keys: keys.union(other.keys))
    }

    /// The line that revokes `credential`'s key (`fedq keys revoke --credential`).
    public static func line(revokingKeyOf credential: ClientCredential) -> String {
        "key " + Hex.encode(credential.publicKey.rawBytes)
    }
}

/// The revocation list a process checks credentials against now, shared by its workers:
/// its own file's (`--revoked`, replaced whole when the operator changes the file,
/// `RevocationFile` in CLISupport), and on a worker also the coordinator's, which arrives
/// signed on version notices (`adopt`). A credential on either is refused. A lock, not an
/// actor: the check sits on the per-update path of value types that do no I/O.
public final class Revocations: Sendable {
    private struct State {
        var local: RevocationList
        var distributed = RevocationList()
        var serial: UInt64?
        /// Both, merged whenever either changes: the per-update check reads one list.
        var effective: RevocationList
    }
    private let state: Mutex<State>

    public init(_ list: RevocationList = RevocationList()) { state = Mutex(State(local: list, effective: list)) }

    /// The process's own list (its file's; on the coordinator, the list it sends).
    public var own: RevocationList { state.withLock { $0.local } }

    /// The coordinator's list last adopted, and its serial (nil: none adopted yet).
    public var distributed: (list: RevocationList, serial: UInt64)? {
        state.withLock { state in state.serial.map { (state.distributed, $0) } }
    }

    /// Whether either list withdraws `credential`: checked under the lock, without copying
    /// the lists out (the per-update path).
    public func revokes(_ credential: ClientCredential) -> Bool { state.withLock { $0.effective.revokes(credential) } }

    /// Replaces the process's own list (its file changed).
    public func replace(with new: RevocationList) {
        state.withLock {
            $0.local = new
            $0.effective = new.union($0.distributed)
        }
    }

    /// Takes the coordinator's list if `serial` is newer than the one held: an older one,
    /// replayed or overtaken on the way, never replaces a newer one.
    /// - Returns: whether the list was taken.
    @discardableResult
    public func adopt(_ list: RevocationList, serial: UInt64) -> Bool {
        state.withLock {
            if let held = $0.serial, held >= serial { return false }
            ($0.distributed, $0.serial) = (list, serial)
            $0.effective = $0.local.union(list)
            return true
        }
    }

    /// Whether a list under `serial` would be taken (checked before verifying and parsing one).
    public func wouldAdopt(serial: UInt64) -> Bool {
        state.withLock { $0.serial.map { $0 < serial } ?? true }
    }
}
