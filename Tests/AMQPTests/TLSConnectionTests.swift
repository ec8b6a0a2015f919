import AMQP
import Foundation
import TestSupport
import Testing

/// Verified, mutual TLS against the TLS-only node of `scripts/tls-node.sh` (which the
/// tests fail without): what connects, what is refused, and that each refusal says why in
/// words an operator can act on, not as a bare librabbitmq status.
@Suite("Against the TLS node", .serialized, .timeLimit(.minutes(3)))
struct TLSConnectionTests {
    static func connect(_ url: String) async throws -> AMQPConnection {
        try await AMQPConnection(url: url, connectionName: "fedq-tls-tests")
    }

    /// What connecting to `url` throws (the test fails when it connects).
    static func refusal(_ url: String) async throws -> AMQPError {
        try await #require(throws: AMQPError.self) { _ = try await connect(url) }
    }

    @Test(arguments: ["fedq-coordinator", "fedq-worker", "fedq-client", "fedq-eval", "fedq-admin"])
    func everyRoleIdentityLogsInWithItsCertificateAndMovesAMessage(_ identity: String) async throws {
        let connection = try await Self.connect(try TestTLSNode.url(identity: identity))
        #expect(connection.configuration.authMechanism == .external)
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName("tls-\(identity)")
        try await channel.declare(AMQPQueue(name: queue, durable: false, exclusive: true))
        let body = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) })
        try await connection.makePublisher().publish(body, exchange: "", routingKey: queue)
        var deliveries = try await channel.consume(queue: queue, prefetch: 1).makeAsyncIterator()
        let delivery = try #require(try await deliveries.next())
        #expect(delivery.body == [UInt8](body))
        try await delivery.ack()
        await connection.close()
    }

    @Test func plainLoginStillNeedsTheClientCertificate() async throws {
        let connection = try await Self.connect(
            try TestTLSNode.url(identity: "fedq-worker", login: .plain(user: "guest", password: "guest")))
        #expect(connection.configuration.authMechanism == .plain)
        await connection.close()
    }

    @Test func aRoleIdentityHasNoPasswordToGuess() async throws {
        let error = try await Self.refusal(try TestTLSNode.url(login: .plain(user: "fedq-worker", password: "anything")))
        #expect(error.code == .accessRefused, "\(error)")
        #expect(!error.description.contains("anything"))
    }

    @Test func anUntrustedCAIsRefusedNamingTheCertificateProblem() async throws {
        let error = try await Self.refusal(try TestTLSNode.url(ca: "untrusted-ca.pem"))
        #expect(error.code == .sslPeerVerifyFailed, "\(error)")
        #expect(error.isPermanent)
        // The node sends its CA along with its certificate: a root the client does not trust.
        #expect(error.description.contains("connect to amqps://localhost:\(try TestTLSNode.port())/%2F: TLS handshake failed: "
            + "certificate verify failed (self-signed certificate in certificate chain)"), "\(error)")
        #expect(error.text.contains("CN=localhost, issued by CN=FedQueue test CA"), "\(error)")
        #expect(error.text.contains("untrusted-ca.pem"), "\(error)")
    }

    @Test func noCACertificateFileMeansTheSystemStoreWhichDoesNotKnowTheTestCA() async throws {
        let error = try await Self.refusal(try TestTLSNode.url(ca: nil))
        #expect(error.code == .sslPeerVerifyFailed, "\(error)")
        #expect(error.text.contains("does not chain to a CA the system trusts"), "\(error)")
    }

    @Test func aHostTheCertificateDoesNotNameIsRefused() async throws {
        // The node listens on 127.0.0.1, but its certificate names only DNS:localhost.
        let error = try await Self.refusal(try TestTLSNode.url(host: "127.0.0.1"))
        #expect(error.code == .sslHostnameVerifyFailed, "\(error)")
        #expect(error.isPermanent)
        #expect(error.text.contains("host name mismatch: the broker's certificate is for DNS:localhost, not '127.0.0.1'"), "\(error)")
    }

    @Test func theNodeRefusesAClientWithoutACertificate() async throws {
        let error = try await Self.refusal(try TestTLSNode.url(identity: nil, login: .plain(user: "guest", password: "guest")))
        #expect(error.code == .accessRefused, "\(error)")
        #expect(error.text.contains("certificate required"), "\(error)")
        #expect(error.text.contains("add certfile= and keyfile="), "\(error)")
    }

    @Test func theNodeRefusesACertificateFromAnotherCA() async throws {
        let error = try await Self.refusal(try TestTLSNode.url(identity: "untrusted-client"))
        #expect(error.code == .accessRefused, "\(error)")
        #expect(error.text.contains("unknown ca"), "\(error)")
    }

    @Test func verifyNoneConnectsWhateverTheCAAndHost() async throws {
        let connection = try await Self.connect(try TestTLSNode.url(host: "127.0.0.1", ca: "untrusted-ca.pem", verifyNone: true))
        #expect(connection.configuration.tls?.verifyPeer == false)
        _ = try await connection.openChannel()
        await connection.close()
    }

    @Test func aMissingCertificateFileIsNamed() async throws {
        let missing = "/nonexistent/fedq-\(UUID().uuidString).pem"
        let error = try await Self.refusal("amqps://localhost:\(try TestTLSNode.port())/?cacertfile=\(missing)")
        #expect(error.code == .sslError, "\(error)")
        #expect(error.text.contains("cannot load CA certificates from \(missing)"), "\(error)")
    }

    /// librabbitmq cannot take a passphrase; OpenSSL would ask for one on the terminal and
    /// block the connection's thread. Refused up front instead.
    @Test func aPassphraseProtectedKeyIsRefusedNotPromptedFor() async throws {
        let key = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-encrypted-\(UUID().uuidString.prefix(6)).key").path
        defer { try? FileManager.default.removeItem(atPath: key) }
        let openssl = try ChildProcess(
            ["/usr/bin/openssl", "pkey", "-in", try TestTLSNode.file("fedq-worker.key"), "-aes256", "-passout", "pass:s3cret", "-out", key],
            outputPath: key + ".log")
        #expect(await openssl.wait(timeout: .seconds(30)) == 0, "\(openssl.output)")
        let url = "amqps://localhost:\(try TestTLSNode.port())/?auth_mechanism=external&cacertfile=\(try TestTLSNode.file("ca.pem"))"
            + "&certfile=\(try TestTLSNode.file("fedq-worker.pem"))&keyfile=\(key)"
        let error = try await Self.refusal(url)
        #expect(error.code == .sslError, "\(error)")
        #expect(error.text.contains("keyfile \(key) is protected by a passphrase"), "\(error)")
    }

    @Test func tlsToAPlainAMQPPortSaysSo() async throws {
        let port = try TestBrokerNode.port()
        let error = try await Self.refusal("amqps://localhost:\(port)/?cacertfile=\(try TestTLSNode.file("ca.pem"))")
        #expect(error.code == .sslConnectionFailed, "\(error)")
        #expect(error.text.contains("is \(port) a plain AMQP port?"), "\(error)")
    }
}
