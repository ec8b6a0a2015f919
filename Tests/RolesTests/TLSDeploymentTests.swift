import Foundation
import TestSupport
import Testing

/// `fedq` role processes over verified, mutual TLS on the TLS-only node of
/// `scripts/tls-node.sh` (which these tests fail without): each role logs in with SASL
/// EXTERNAL as its own certificate's identity, as a deployment with per-role identities
/// would run; what an operator sees for `verify=verify_none` and for a broker that does
/// not verify.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct TLSDeploymentTests {
    @Test func everyRoleLogsInAsItsOwnCertificate() async throws {
        let deployment = try await Deployment("tls", broker: try TestTLSNode.url(identity: "fedq-admin"))
        try deployment.start(
            "coordinator", ["coordinator", "--checkpoint", deployment.directory + "/coordinator"],
            broker: try TestTLSNode.url(identity: "fedq-coordinator"))
        try deployment.start("worker", ["worker"], broker: try TestTLSNode.url(identity: "fedq-worker"))
        try deployment.start(
            "eval", ["eval", "--out", deployment.directory + "/eval"], broker: try TestTLSNode.url(identity: "fedq-eval"))
        let client = try deployment.start(
            "client", ["client", "--clients", "100", "--client-index", "0", "--max-updates", "1", "--out", deployment.directory + "/client"],
            broker: try TestTLSNode.url(identity: "fedq-client"))
        #expect(await client.wait(timeout: .seconds(120)) == 0, "the client did not finish: \(client.output.suffix(600))")
        let published = deployment.published("client")
        #expect(published.count == 1, "published \(published)")
        // The coordinator's K=7 buffer is applied short after --max-buffer-wait-ms.
        try await deployment.waitUntil("the update is settled", timeout: .seconds(60)) { deployment.settled().count >= 1 }
        #expect(deployment.settled().map(\.id) == published)
        #expect(deployment.settled().map(\.disposition) == ["applied"])
        for (name, status) in await deployment.stopAll() {
            #expect(status == 0, "\(name) exited with \(String(describing: status)): \(deployment.read(name + ".log").suffix(400))")
        }
        for name in ["coordinator", "worker", "client", "eval"] {
            #expect(!deployment.read(name + ".log").contains("verify_none"), "\(name) warned about verify_none")
        }
        // The evaluator, over TLS as fedq-eval, scored the model it was sent.
        #expect(deployment.read("eval.log").contains("  accuracy "), "\(deployment.read("eval.log").suffix(400))")
    }

    @Test func topologyOverTLSAndTheVerifyNoneWarning() async throws {
        let definitions = Deployment.repository + "/topology/definitions.json"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-tls-topology-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        let apply = try ChildProcess(
            [try Deployment.binary(), "topology", "apply", "--broker", try TestTLSNode.url(identity: "fedq-admin"), "--definitions", definitions],
            outputPath: directory + "/apply.log")
        #expect(await apply.wait(timeout: .seconds(60)) == 0, "\(apply.output)")
        #expect(apply.output.contains("applied "), "\(apply.output)")
        #expect(!apply.output.contains("warning"), "\(apply.output)")

        // PLAIN with a password, to a host the certificate does not name, trusting the wrong
        // CA: verify_none lets it through, and says so once, without the password.
        let unverified = try TestTLSNode.url(
            host: "127.0.0.1", identity: "fedq-admin", ca: "untrusted-ca.pem", verifyNone: true,
            login: .plain(user: "guest", password: "guest"))
        let check = try ChildProcess(
            [try Deployment.binary(), "topology", "check", "--broker", unverified, "--definitions", definitions],
            outputPath: directory + "/check.log")
        #expect(await check.wait(timeout: .seconds(60)) == 0, "\(check.output)")
        #expect(check.output.contains("ok: "), "\(check.output)")
        let warnings = check.output.split(separator: "\n").filter { $0.contains("verify_none") }
        #expect(warnings.count == 1, "\(check.output)")
        #expect(warnings.first?.hasPrefix("warning: amqps://guest@127.0.0.1:\(try TestTLSNode.port())/%2F has verify=verify_none") == true,
                "\(check.output)")
        #expect(!check.output.contains("guest:guest"), "\(check.output)")
    }

    @Test func aRoleThatCannotVerifyTheBrokerStopsWithTheReason() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-tls-refused-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let worker = try ChildProcess(
            [try Deployment.binary(), "worker", "--reconnect-for", "0", "--broker", try TestTLSNode.url(host: "127.0.0.1")],
            outputPath: directory + "/worker.log")
        let status = await worker.wait(timeout: .seconds(60))
        #expect(status != nil && status != 0, "\(worker.output)")
        #expect(worker.output.contains("TLS handshake failed: host name mismatch: the broker's certificate is for DNS:localhost, not '127.0.0.1'"),
                "\(worker.output)")
    }
}
