import Foundation
import Testing

@testable import CLISupport
@testable import FedqCLI

/// `fedq identities create`: the definitions a broker imports and one secret file per
/// user, none readable by others, no password on the way; passwords kept on a re-run.
@Suite struct IdentitiesCommandTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("topology/identities.json").path

    func create(_ arguments: [String]) throws -> Identities.Create {
        try #require(try Fedq.parseAsRoot(["identities", "create", "--identities", Self.shipped] + arguments) as? Identities.Create)
    }

    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func writesHashedDefinitionsAndPrivatePasswordFiles() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-ids-\(UUID().uuidString.prefix(6))").path
        try create(["--out", out]).run()
        #expect(try mode(out) == 0o700)
        let users = ["fedq-admin", "fedq-coordinator", "fedq-worker", "fedq-client", "fedq-eval", "fedq-operator"]
        var passwords: [String: String] = [:]
        for user in users {
            let file = out + "/\(user).password"
            #expect(try mode(file) == 0o600, "\(file)")
            passwords[user] = try SharedOptions.readSecret(file, flag: "test")
        }
        #expect(Set(passwords.values).count == users.count)
        #expect(try mode(out + "/definitions.json") == 0o600)
        let definitions = try String(contentsOfFile: out + "/definitions.json", encoding: .utf8)
        for password in passwords.values { #expect(!definitions.contains(password)) }
        #expect(definitions.contains("rabbit_password_hashing_sha256"))

        // A second run keeps every password (scripts re-run it); --rotate makes new ones.
        try create(["--out", out]).run()
        #expect(try SharedOptions.readSecret(out + "/fedq-worker.password", flag: "test") == passwords["fedq-worker"])
        try create(["--out", out, "--rotate"]).run()
        #expect(try SharedOptions.readSecret(out + "/fedq-worker.password", flag: "test") != passwords["fedq-worker"])
    }

    @Test func badInputIsOneLine() throws {
        #expect { try create(["--out", "/proc/nope"]).run() } throws: {
            ($0 as? CommandError)?.description == "--out: cannot create directory /proc/nope"
        }
        let missing = try #require(try Fedq.parseAsRoot(["identities", "create", "--identities", "/nonexistent.json", "--out", "/tmp/x"]) as? Identities.Create)
        #expect { try missing.run() } throws: {
            ($0 as? CommandError)?.description.hasPrefix("--identities: cannot read identities from /nonexistent.json") == true
        }
    }
}
