import ArgumentParser
import CLISupport
import Foundation
import Trust

/// `fedq identities create`: the broker users of a deployment, one per role, with the
/// permissions `topology/identities.json` gives each (docs/security.md).
struct Identities: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the per-role broker identities (users, passwords, permissions) for RabbitMQ to import.",
        subcommands: [Create.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a definitions file with every role's user, password hash and permissions, and one password file per user.",
            discussion: """
                Import the result with `rabbitmqctl import_definitions DIR/definitions.json` (or \
                RabbitMQ's load_definitions at boot), then start each role as its own user with \
                --broker amqp://USER@HOST:PORT/%2F --broker-password-file DIR/USER.password. \
                Passwords already in DIR are kept (run it again to add users or re-import); \
                --rotate makes new ones. Passwords are never printed.
                """)

        @Option(help: "The identities: users and their permission patterns, RabbitMQ definitions format.")
        var identities = "topology/identities.json"
        @Option(help: "Directory for definitions.json and the USER.password files (created, mode 700).")
        var out: String
        @Flag(help: "Make new passwords even for users that have one in --out.")
        var rotate = false

        func run() throws {
            let loaded: BrokerIdentities
            do { loaded = try BrokerIdentities(contentsOf: identities) } catch {
                throw CommandError("--identities: \(error)")
            }
            let directory = URL(fileURLWithPath: out)
            do {
                try FileManager.default.createDirectory(
                    at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CommandError("--out: cannot create directory \(out)")
            }
            var passwords: [String: String] = [:]
            for user in loaded.users {
                let file = directory.appendingPathComponent("\(user.name).password")
                if !rotate, let kept = try? SharedOptions.readSecret(file.path, flag: "out") {
                    passwords[user.name] = kept
                    continue
                }
                let password = BrokerIdentities.randomPassword()
                try writeSecret(Data((password + "\n").utf8), to: file)
                passwords[user.name] = password
            }
            let definitions = directory.appendingPathComponent("definitions.json")
            try writeSecret(try loaded.definitions(passwords: passwords), to: definitions)
            print("wrote \(loaded.users.count) identities (\(loaded.users.map(\.name).joined(separator: ", "))) to \(definitions.path)")
            print("import it with: rabbitmqctl import_definitions \(definitions.path)")
            print("each role's password is in \(out)/USER.password (mode 600): pass it with --broker-password-file")
        }

        /// Written with mode 600 from the start: a secret is never readable by others, not even briefly.
        private func writeSecret(_ data: Data, to file: URL) throws {
            let path = file.path
            _ = unlink(path)
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard descriptor >= 0 else { throw CommandError("--out: cannot write \(path)") }
            defer { close(descriptor) }
            let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == data.count else { throw CommandError("--out: cannot write \(path)") }
        }
    }
}
