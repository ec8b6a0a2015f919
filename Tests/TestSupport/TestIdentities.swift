import Foundation
import Testing
import Trust

/// The shipped per-role broker identities (`topology/identities.json`) on the test node:
/// created once per test process with fresh passwords, imported with
/// `scripts/broker.sh import`, so tests run every role as it runs in a deployment (and
/// check what each may not do) rather than as the test node's throwaway guest.
public enum TestIdentities {
    /// The users of `topology/identities.json`.
    public enum User: String, Sendable, CaseIterable {
        case admin = "fedq-admin", coordinator = "fedq-coordinator", worker = "fedq-worker", client = "fedq-client"
        case eval = "fedq-eval", operator_ = "fedq-operator"

        /// The identity a `fedq` subcommand runs as (nil: not a role; it keeps the admin URL).
        public init?(command: String) {
            switch command {
            case "coordinator": self = .coordinator
            case "worker": self = .worker
            case "fleet", "client": self = .client
            case "eval": self = .eval
            default: return nil
            }
        }
    }

    public static let identitiesPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("topology/identities.json").path

    /// The test node's URL for `user`, its password in the userinfo.
    public static func url(as user: User) async throws -> String {
        let passwords = try await created.value
        let password = try #require(passwords[user.rawValue])
        let node = try TestBrokerNode.url()
        // The test node's URL is amqp://guest:guest@HOST:PORT/VHOST: swap the userinfo.
        let rest = try #require(node.split(separator: "@", maxSplits: 1).last)
        return "amqp://\(user.rawValue):\(password)@\(rest)"
    }

    private static let created = Task { () throws -> [String: String] in
        let identities = try BrokerIdentities(contentsOf: identitiesPath)
        var passwords: [String: String] = [:]
        for user in identities.users { passwords[user.name] = BrokerIdentities.randomPassword() }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-identities-\(getpid()).json")
        try identities.definitions(passwords: passwords).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await TestBrokerNode.runScript("import", file.path)
        return passwords
    }
}
