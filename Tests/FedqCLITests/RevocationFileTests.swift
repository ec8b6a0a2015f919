import ArgumentParser
import Foundation
import Logging
import Testing
import Trust

@testable import CLISupport
@testable import FedqCLI

/// A worker's `--revoked FILE` and `fedq keys revoke`: a bad file is one line naming its
/// path and line, the list follows its file (a change that does not parse leaves the one
/// before in force), and the command adds entries a worker then applies.
@Suite struct RevocationFileTests {
    func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "fedq-revoked-\(UUID().uuidString).txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aBadFileIsOneLineNamingItsPathAndLine() throws {
        let path = try file("client 1\nclient x\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: TrustError.keyFile(path: path, reason: "line 2: `x` is not a client id (a decimal number)")) {
            try RevocationFile.read(at: path)
        }
        let options = try TrustOptions.parse(["--revoked", path])
        let error = try #require(throws: KeyOptionError.self) { try options.loadRevocations() }
        #expect(error.description == "--revoked: \(path): line 2: `x` is not a client id (a decimal number)")
        let missing = try TrustOptions.parse(["--revoked", path + ".none"])
        #expect(throws: KeyOptionError.self) { try missing.loadRevocations() }
        #expect(try TrustOptions.parse([]).loadRevocations() == nil)
    }

    /// The list follows its file; a change that does not parse is ignored until it does.
    @Test func aWorkersListFollowsItsFile() async throws {
        let path = try file("client 1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let revocations = try #require(try TrustOptions.parse(["--revoked", path]).loadRevocations())
        #expect(revocations.own.clients == [1])
        let watching = Task {
            try await RevocationFile.watch(path, into: revocations, every: .milliseconds(20), logger: Logger(label: "test"))
        }
        defer { watching.cancel() }
        func waitFor(_ clients: Set<UInt64>) async throws {
            for _ in 0..<200 where revocations.own.clients != clients { try await Task.sleep(for: .milliseconds(10)) }
            #expect(revocations.own.clients == clients)
        }
        try "client 1\nclient 2\n".write(toFile: path, atomically: true, encoding: .utf8)
        try await waitFor([1, 2])
        try "client 1\nclient 2\nclient oops\n".write(toFile: path, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(200))
        #expect(revocations.own.clients == [1, 2], "a broken change keeps the list before")
        try "client 2\n".write(toFile: path, atomically: true, encoding: .utf8)
        try await waitFor([2])
    }

    /// `fedq keys revoke` appends what is not on the list yet, keeps what was, and writes a
    /// list the worker's parser takes: a client by id, a credential by its key.
    @Test func keysRevokeAddsEntriesAWorkerApplies() throws {
        let directory = NSTemporaryDirectory() + "fedq-revoke-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let list = directory + "/revoked.txt"
        let lost = ClientIdentity.issue(clientID: 9, notAfter: 2_000_000_000, by: SigningKey())
        try KeyFile.write(lost, directory: directory)
        for arguments in [
            ["keys", "revoke", "--list", list, "--clients", "3,5-6"],
            ["keys", "revoke", "--list", list, "--clients", "5"],  // on the list already
            ["keys", "revoke", "--list", list, "--credential", directory + "/client-9.cred"],
        ] {
            let command = try #require(try Fedq.parseAsRoot(arguments) as? Keys.Revoke)
            try command.run()
        }
        let text = try String(contentsOfFile: list, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 4, "\(text)")
        let revoked = try RevocationFile.read(at: list)
        #expect(revoked.clients == [3, 5, 6])
        #expect(revoked.keys == [lost.credential.publicKey.rawBytes])
        // A broken list is not appended to: the command stops with the line that is wrong.
        try (text + "client x\n").write(toFile: list, atomically: true, encoding: .utf8)
        let broken = try #require(try Fedq.parseAsRoot(["keys", "revoke", "--list", list, "--clients", "7"]) as? Keys.Revoke)
        #expect(throws: TrustError.self) { try broken.run() }
        #expect(try String(contentsOfFile: list, encoding: .utf8) == text + "client x\n")
    }
}
