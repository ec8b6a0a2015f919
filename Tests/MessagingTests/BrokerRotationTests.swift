import FedCore
import Foundation
import Messaging
import RabbitMQTransport
import TestSupport
import Testing

/// Which node of a cluster a role connects to, and where it goes when that node is lost.
@Suite struct BrokerRotationTests {
    @Test func everyAttemptTriesEveryNodeOnceAndStartsAfterTheLastConnected() {
        var generator = SeededGenerator(seed: 7)
        var rotation = BrokerRotation(count: 4, using: &generator)
        #expect(rotation.order.sorted() == [0, 1, 2, 3])
        #expect(rotation.attempts == rotation.order)
        rotation.connected(to: rotation.order[1])
        #expect(rotation.attempts == Array(rotation.order[2...] + rotation.order[...1]))
        #expect(rotation.attempts.last == rotation.order[1])
    }

    @Test func processesSpreadOverTheNodes() {
        // 300 processes' first choices over 3 nodes: each node is first for roughly a third.
        var firsts = [0, 0, 0]
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<300 { firsts[BrokerRotation(count: 3, using: &generator).attempts[0]] += 1 }
        #expect(firsts.allSatisfy { (70...130).contains($0) }, "first choices \(firsts)")
    }

    @Test func aFailoverConnectorSkipsANodeThatDoesNotAnswer() async throws {
        // Port 1 on loopback refuses at once: a dead node listed beside the live test broker.
        let url = "amqp://guest:guest@127.0.0.1:1/%2F," + (try TestBrokerNode.url())
        let connector = try TransportFactory.connector(for: url, connectionName: "fedq failover test")
        for _ in 0..<4 {
            let transport = try await connector.connect()
            let queue = try await transport.declareQueue(QueueDeclaration(name: "", durable: false, exclusive: true, autoDelete: true))
            #expect(queue.name.hasPrefix("amq.gen-"))
            await transport.close()
        }
    }

    @Test func aListOfUnreachableNodesFailsWithAConnectionError() async throws {
        let connector = try TransportFactory.connector(
            for: "amqp://guest:guest@127.0.0.1:1/%2F,amqp://guest:guest@127.0.0.1:2/%2F", connectionName: "fedq failover test")
        await #expect(throws: TransportError.self) { _ = try await connector.connect() }
        do {
            _ = try await connector.connect()
        } catch {
            #expect(error.isConnectionLoss)
            #expect(!"\(error)".contains("guest:guest"), "a password in \(error)")
        }
    }

    @Test func badListsAreRefusedUpFront() {
        #expect(throws: TransportFactory.AddressError.self) { try TransportFactory.validate("amqp://127.0.0.1:1,") }
        #expect(throws: TransportFactory.AddressError.self) { try TransportFactory.validate("embedded,amqp://127.0.0.1:1") }
        #expect(throws: TransportFactory.AddressError.self) { try TransportFactory.validate("amqp://127.0.0.1:1,http://x") }
    }
}
