import FedCore
import Foundation
import Messaging
import RabbitMQTransport
import TestSupport
import Testing

/// A role's transport over verified, mutual TLS, built the way every role builds it
/// (`TransportFactory.connector(for:)` from a URL), against the TLS-only node of
/// `scripts/tls-node.sh`, which these tests fail without.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct TLSTransportTests {
    @Test func aWorkersTransportLogsInWithItsCertificateAndMovesAMessage() async throws {
        let connector = try TransportFactory.connector(for: try TestTLSNode.url(identity: "fedq-worker"), connectionName: "fedq worker")
        #expect(connector.description == "amqps://localhost:\(try TestTLSNode.port())/%2F")
        let transport = try await connector.connect()
        let queue = try await transport.declareQueue(
            QueueDeclaration(name: TestBroker.uniqueName("tls"), durable: false, exclusive: true)
        ).name
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let sent = MessageProperties(messageID: "tls-1", contentType: "application/x-fedq-update", persistent: true,
                                     headers: ["x-fedq-model-version": 7])
        try await transport.publish(body, exchange: "", routingKey: queue, properties: sent, mandatory: true)

        var deliveries = try await transport.consume(queue: queue, prefetch: 1).makeAsyncIterator()
        let delivery = try await nextDelivery(&deliveries)
        #expect(delivery.body == body)
        #expect(delivery.properties == sent)
        try await delivery.ack()
        #expect(try await transport.queueStatus(queue).messageCount == 0)
        await transport.close()
    }

    @Test func anUntrustedBrokerIsAConnectionFailureThatSaysWhy() async throws {
        let connector = try TransportFactory.connector(for: try TestTLSNode.url(ca: "untrusted-ca.pem"), connectionName: "fedq worker")
        let error = try await #require(throws: TransportError.self) { _ = try await connector.connect() }
        guard case .connectionFailed(let why) = error else {
            Issue.record("expected connectionFailed, got \(error)")
            return
        }
        #expect(why.contains("TLS handshake failed: certificate verify failed ("), "\(why)")
    }

    @Test func aRefusedClientCertificateIsARefusalTheRoleDoesNotRetry() async throws {
        let url = try TestTLSNode.url(identity: nil, login: .plain(user: "guest", password: "guest"))
        let connector = try TransportFactory.connector(for: url, connectionName: "fedq worker")
        let error = try await #require(throws: TransportError.self) { _ = try await connector.connect() }
        guard case .accessRefused(let why) = error else {
            Issue.record("expected accessRefused, got \(error)")
            return
        }
        #expect(why.contains("certificate required"), "\(why)")
        #expect(!error.isConnectionLoss)
    }
}
