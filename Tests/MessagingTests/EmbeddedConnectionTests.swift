import FedCore
import Messaging
import Testing

@Suite(.timeLimit(.minutes(1)))
struct EmbeddedConnectionTests {
    @Test func closingAConnectionRequeuesOnlyItsDeliveries() async throws {
        let broker = try await brokerWithDeadLetters()
        for number in 0..<4 {
            try await broker.publish([UInt8(number)], exchange: "updates", routingKey: "u", properties: message("m\(number)"))
        }
        let crashing = broker.connect()
        let surviving = broker.connect()
        var lost = try await crashing.consume(queue: "updates", prefetch: 2).makeAsyncIterator()
        var kept = try await surviving.consume(queue: "updates", prefetch: 2).makeAsyncIterator()
        let held = try await nextDelivery(&lost)
        let working = try await nextDelivery(&kept)
        #expect(try await broker.queueStatus("updates").messageCount == 0)

        await crashing.close()
        #expect(try await lost.next() == nil)
        await #expect(throws: TransportError.closed) { try await crashing.queueStatus("updates") }
        await #expect(throws: TransportError.unknownDeliveryTag(held.deliveryTag)) { try await held.ack() }

        try await working.ack()
        var redelivered: [String] = []
        for _ in 0..<3 {
            let delivery = try await nextDelivery(&kept)
            if delivery.redelivered { redelivered.append(delivery.properties.messageID ?? "") }
            try await delivery.ack()
        }
        #expect(redelivered.count == 2)  // the two the crashed connection held
        #expect(try await broker.queueStatus("updates") == QueueStatus(name: "updates", messageCount: 0, consumerCount: 1))
    }

    @Test func exclusiveQueuesBelongToTheirConnection() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareExchange(ExchangeDeclaration(name: "models", kind: .fanout))
        let client = broker.connect()
        let queue = try await client.declareQueue(QueueDeclaration(name: "client-7", durable: false, exclusive: true)).name
        try await client.bindQueue(queue, exchange: "models", routingKey: "")
        let other = broker.connect()
        await #expect(throws: TransportError.resourceLocked("queue 'client-7' is exclusive to another connection")) {
            try await other.consume(queue: queue, prefetch: 1)
        }
        // Not auto-delete: it outlives its consumer, but not its connection.
        await (try await client.consume(queue: queue, prefetch: 1)).cancel()
        #expect(try await client.queueStatus(queue).consumerCount == 0)
        await client.close()
        await #expect(throws: TransportError.notFound("queue 'client-7'")) { try await broker.queueStatus(queue) }
        try await other.publish([1], exchange: "models", routingKey: "")  // the binding went with it
    }
}
