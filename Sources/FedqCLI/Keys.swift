import ArgumentParser
import CLISupport
import Foundation
import Trust

/// `fedq keys`: the federation's keys and its clients' credentials (docs/signing.md).
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make the issuer's and the coordinator's key pairs, issue, show and revoke client credentials.",
        subcommands: [Init.self, Issue.self, Show.self, Revoke.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write DIR/issuer.key, issuer.pub, coordinator.key and coordinator.pub (private keys 0600).",
            discussion: """
                issuer.key issues client credentials (keep it offline); workers get issuer.pub \
                (--issuer-key). coordinator.key signs model versions (--signing-key); workers, \
                clients and the evaluator get coordinator.pub (--coordinator-key). Existing \
                files are never replaced.
                """
        )

        @Argument(help: "Directory for the four key files (created if missing).")
        var directory: String

        func run() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for name in ["issuer", "coordinator"] {
                let key = SigningKey()
                try KeyFile.write(key, to: "\(directory)/\(name).key")
                try KeyFile.write(key.publicKey, to: "\(directory)/\(name).pub")
                print("\(directory)/\(name).key, \(name).pub: \(key.publicKey.fingerprint)")
            }
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give each client a key pair and a credential signed by the issuer: OUT/client-<id>.key and .cred.",
            discussion: "A fleet or client reads them with --credentials OUT."
        )

        @Option(help: "The issuer's private key (DIR/issuer.key from `fedq keys init`).")
        var issuer: String
        @Option(help: "Client ids: N, A-B (inclusive) or a comma-separated list of both, e.g. 0-99.")
        var clients: String
        @Option(help: "Days until the credentials expire.")
        var validDays = 365
        @Option(help: "Directory for the clients' files (created if missing).")
        var out: String

        func validate() throws {
            guard validDays > 0 else { throw ValidationError("--valid-days must be positive") }
            _ = try clientIDs()
        }

        func clientIDs() throws -> [UInt64] {
            try Self.parseIDs(clients)
        }

        /// `N`, `A-B` and comma-separated lists of both.
        static func parseIDs(_ text: String) throws -> [UInt64] {
            var ids: [UInt64] = []
            for part in text.split(separator: ",") {
                let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
                switch bounds.count {
                case 1 where bounds[0] != nil: ids.append(bounds[0]!)
                case 2 where bounds[0] != nil && bounds[1] != nil && bounds[0]! <= bounds[1]!: ids += Array(bounds[0]!...bounds[1]!)
                default: throw ValidationError("--clients: '\(part)' is not N or A-B with A <= B")
                }
            }
            guard !ids.isEmpty else { throw ValidationError("--clients: no ids") }
            return ids
        }

        func run() throws {
            let issuer = try KeyFile.readSigningKey(at: issuer)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let notAfter = UInt64(Date().timeIntervalSince1970) + UInt64(validDays) * 86_400
            let ids = try clientIDs()
            for id in ids {
                try KeyFile.write(ClientIdentity.issue(clientID: id, notAfter: notAfter, by: issuer), directory: out)
            }
            print("\(ids.count) clients in \(out), valid until \(Show.date(notAfter)), issuer \(issuer.publicKey.fingerprint)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add clients, or one credential's key, to a revocation list (a worker's --revoked; created if missing).",
            discussion: """
                --clients shuts those clients out whatever key they hold (a member that left); \
                --credential withdraws that credential's key only, so the client can be given a \
                new key and credential (a lost device). Workers running with --revoked LIST read \
                the change within 2 seconds. The list is rewritten whole (a new file renamed \
                over it), so a worker never reads half of it; one that does not parse is left \
                alone.
                """
        )

        @Option(help: "The revocation list to add to.")
        var list: String
        @Option(help: "Client ids to revoke: N, A-B (inclusive) or a comma-separated list of both.")
        var clients: String?
        @Option(help: "A client's .cred file: revoke that credential's key.")
        var credential: String?

        func validate() throws {
            guard (clients == nil) != (credential == nil) else { throw ValidationError("give either --clients or --credential") }
            if let clients { _ = try Issue.parseIDs(clients) }
        }

        func run() throws {
            let text = FileManager.default.fileExists(atPath: list) ? try RevocationFile.text(at: list) : ""
            let existing = try RevocationFile.parse(text, path: list)
            let stamp = "revoked \(Show.date(UInt64(Date().timeIntervalSince1970)))"
            var lines: [String] = []
            if let clients {
                for id in try Issue.parseIDs(clients) where !existing.clients.contains(id) { lines.append("client \(id)  # \(stamp)") }
            } else if let credential {
                let revoked = try KeyFile.readCredential(at: credential)
                if !existing.keys.contains(revoked.publicKey.rawBytes) {
                    lines.append(
                        RevocationList.line(revokingKeyOf: revoked)
                            + "  # client \(revoked.clientID)'s credential valid until \(Show.date(revoked.notAfter)), \(stamp)")
                }
            }
            let joined = text.isEmpty || text.hasSuffix("\n") ? text : text + "\n"
            try Data((joined + lines.map { $0 + "\n" }.joined()).utf8).write(to: URL(fileURLWithPath: list), options: .atomic)
            print("\(lines.count) \(lines.count == 1 ? "entry" : "entries") added to \(list)")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a credential (client id, key fingerprint, expiry) or a key (its public fingerprint only)."
        )

        @Argument(help: "A .cred, .pub or .key file.")
        var file: String
        @Option(help: "Also check that this issuer public key signed the credential.")
        var issuer: String?

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw TrustError.keyFile(path: file, reason: "cannot be read") }
            let bytes = Array(data)
            if bytes.starts(with: ClientCredential.magic) {
                let credential = try ClientCredential(bytes: bytes)
                print("credential of client \(credential.clientID)")
                print("key \(credential.publicKey.fingerprint)")
                let expired = UInt64(Date().timeIntervalSince1970) > credential.notAfter ? " (expired)" : ""
                print("valid until \(Self.date(credential.notAfter))\(expired)")
                if let issuer {
                    let key = try KeyFile.readVerifyingKey(at: issuer)
                    print(credential.isIssued(by: key) ? "issued by \(key.fingerprint)" : "NOT issued by \(key.fingerprint)")
                }
            } else if let key = try? KeyFile.readVerifyingKey(at: file) {
                print("public key \(key.fingerprint)")
            } else {
                // A private key: only its public half is ever printed.
                print("private key of public key \(try KeyFile.readSigningKey(at: file).publicKey.fingerprint)")
            }
        }

        static func date(_ unixSeconds: UInt64) -> String {
            ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(unixSeconds)))
        }
    }
}
