import FedCore
import RabbitMQTransport
import Foundation
import TestSupport
import Testing
@testable import Messaging

/// The transport contract the roles rely on: every test body runs on the embedded broker
/// and on the RabbitMQ node of `scripts/test.sh` (through `AMQPTransport`), so the test
/// double and the real broker cannot drift apart.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct TransportContractTests {
    static let headers: [String: HeaderValue] = [
        "x-fedq-model-version": 42, "codec": "int8", "stale": false, "norm": 1.5, "blob": .bytes([0, 1, 255]),
        "sent": .timestamp(Date(timeIntervalSince1970: 1_764_000_000)),
        "nested": .table(["k": "v", "list": .array([1, "two", .table(["deep": true])])]),
    ]

    /// A private queue of `transport`'s connection, deleted when it closes.
    static func privateQueue(_ transport: some Transport, _ arguments: QueueArguments = QueueArguments()) async throws -> String {
        try await transport.declareQueue(
            QueueDeclaration(name: TestBroker.uniqueName("transport"), durable: false, exclusive: true, arguments: arguments)
        ).name
    }

    @Test(arguments: TestTransport.allCases)
    func roundTripKeepsBodyPropertiesAndHeaders(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let queue = try await Self.privateQueue(transport)
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let sent = MessageProperties(
            messageID: "u-1", contentType: "application/x-fedq-update", contentEncoding: "int8", correlationID: "c-1",
            replyTo: "nowhere", timestamp: Date(timeIntervalSince1970: 1_764_000_123), persistent: true, headers: Self.headers)
        try await transport.publish(body, exchange: "", routingKey: queue, properties: sent, mandatory: true)
        #expect(try await transport.queueStatus(queue) == QueueStatus(name: queue, messageCount: 1, consumerCount: 0))

        var deliveries = try await transport.consume(queue: queue, prefetch: 4).makeAsyncIterator()
        let delivery = try await nextDelivery(&deliveries)
        #expect(delivery.body == body)
        #expect(delivery.properties == sent)
        #expect(delivery.exchange == "" && delivery.routingKey == queue && !delivery.redelivered)
        try await delivery.ack()
        #expect(try await transport.queueStatus(queue).messageCount == 0)

        try await transport.publish([1], exchange: "", routingKey: queue, properties: MessageProperties(persistent: false))
        #expect(try await nextDelivery(&deliveries).properties == MessageProperties(persistent: false))
        await transport.close()
    }

    /// Dead-lettering: nack without requeue, and the copy in the dead-letter queue carries
    /// RabbitMQ's `x-death` record (the embedded broker writes the same table) and the
    /// headers it had.
    @Test(arguments: TestTransport.allCases)
    func nackWithoutRequeueDeadLetters(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let names = (work: TestBroker.uniqueName("work"), dead: TestBroker.uniqueName("dead"))
        let transport = try await connector.connect()
        let dead = try await Self.deadLetter(on: transport, names: names)
        await transport.close()

        #expect(dead.body == [9, 9])
        #expect(dead.properties.headers["x-fedq-reject-reason"] == "malformed")
        #expect(dead.properties.deaths == [MessageProperties.Death(reason: "rejected", queue: names.work, count: 1)])
        #expect(dead.properties.headers["x-first-death-reason"] == "rejected")
        #expect(dead.properties.headers["x-first-death-queue"] == .string(names.work))
        // RabbitMQ's x-death table, entry for entry (but for the time: RabbitMQ keeps whole seconds).
        let entry = try #require(dead.properties.headers["x-death"]?.arrayValue?.first?.tableValue)
        #expect(entry["count"] == 1 && entry["reason"] == "rejected" && entry["queue"] == .string(names.work))
        #expect(entry["exchange"] == "" && entry["routing-keys"] == .array([.string(names.work)]))
        if case .timestamp = entry["time"] {
        } else {
            Issue.record("x-death has no time: \(dead.properties.headers)")
        }
    }
    /// Declares a work queue dead-lettering into a fanout, nacks a message off it and
    /// returns what arrived in the dead-letter queue.
    static func deadLetter(on transport: some Transport, names: (work: String, dead: String)) async throws -> Delivery {
        try await transport.declareExchange(ExchangeDeclaration(name: names.dead, kind: .fanout, durable: false, autoDelete: true))
        try await transport.declareQueue(QueueDeclaration(name: names.dead, durable: false, exclusive: true))
        try await transport.bindQueue(names.dead, exchange: names.dead, routingKey: "")
        try await transport.declareQueue(QueueDeclaration(
            name: names.work, durable: false, exclusive: true, arguments: QueueArguments(deadLetterExchange: names.dead)))
        try await transport.publish(
            [9, 9], exchange: "", routingKey: names.work,
            properties: MessageProperties(messageID: "poison", headers: ["x-fedq-reject-reason": "malformed"]))
        var work = try await transport.consume(queue: names.work, prefetch: 1).makeAsyncIterator()
        try await nextDelivery(&work).nack(requeue: false)
        var dead = try await transport.consume(queue: names.dead, prefetch: 1).makeAsyncIterator()
        let delivery = try await nextDelivery(&dead)
        try await delivery.ack()
        return delivery
    }

    @Test(arguments: TestTransport.allCases)
    func settlementsReachTheBroker(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let queue = try await Self.privateQueue(transport)
        for id in ["a", "b", "c"] {
            try await transport.publish([1], exchange: "", routingKey: queue, properties: MessageProperties(messageID: id))
        }
        var deliveries = try await transport.consume(queue: queue, prefetch: 3).makeAsyncIterator()
        let first = try await nextDelivery(&deliveries)
        let second = try await nextDelivery(&deliveries)
        let third = try await nextDelivery(&deliveries)
        try await first.ack()
        await #expect(throws: TransportError.unknownDeliveryTag(first.deliveryTag)) { try await first.ack() }
        try await second.nack(requeue: true)
        let again = try await nextDelivery(&deliveries)
        #expect(again.properties.messageID == "b" && again.redelivered)
        try await again.ack()
        try await third.reject(requeue: false)  // no dead-letter exchange: dropped
        try await transport.publish([2], exchange: "", routingKey: queue, properties: MessageProperties(messageID: "d"))
        // Still consuming: the refused double ack never reached (and closed) the channel.
        #expect(try await nextDelivery(&deliveries).properties.messageID == "d")
        #expect(try await transport.queueStatus(queue).messageCount == 0)
        await transport.close()
    }

    /// One multiple ack settles a consumer's batch on RabbitMQ as on the embedded broker:
    /// the deliveries up to it, not the ones after it, nor another consumer's.
    @Test(arguments: TestTransport.allCases)
    func ackMultipleSettlesTheConsumersEarlierDeliveries(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        #expect(try await Self.ackMultiple(on: transport, queues: (try await Self.privateQueue(transport), try await Self.privateQueue(transport))) == [[3, 4], [9]])
        await transport.close()
        let broker = EmbeddedBroker()
        let embedded = broker.connect()
        #expect(try await Self.ackMultiple(on: embedded, queues: (try await Self.privateQueue(embedded), try await Self.privateQueue(embedded))) == [[3, 4], [9]])
        await broker.close()
    }

    /// Consumes [0]…[4] from one queue and [9] from another (delivered between them), acks
    /// the third of the first with `multiple`, cancels both, and returns what each queue
    /// gives back (nil once a queue does not settle at the count expected: 2 and 1).
    static func ackMultiple(on transport: some Transport, queues: (String, String)) async throws -> [[UInt8]]? {
        let first = try await transport.consume(queue: queues.0, prefetch: 10)
        let second = try await transport.consume(queue: queues.1, prefetch: 10)
        var firstDeliveries = first.makeAsyncIterator()
        var secondDeliveries = second.makeAsyncIterator()
        var batch: [Delivery] = []
        for value: UInt8 in 0..<5 {
            try await transport.publish([value], exchange: "", routingKey: queues.0)
            batch.append(try await nextDelivery(&firstDeliveries))
            if value == 1 {
                try await transport.publish([9], exchange: "", routingKey: queues.1)
                _ = try await nextDelivery(&secondDeliveries)
            }
        }
        try await batch[2].ack(multiple: true)
        await first.cancel()
        await second.cancel()
        var left: [[UInt8]] = []
        for (queue, count) in [(queues.0, 2), (queues.1, 1)] {
            guard try await eventually({ try await transport.queueStatus(queue).messageCount == count }) else { return nil }
            var again = try await transport.consume(queue: queue, prefetch: 10).makeAsyncIterator()
            var bodies: [UInt8] = []
            for _ in 0..<count {
                let delivery = try await nextDelivery(&again)
                #expect(delivery.redelivered)
                bodies += delivery.body
                try await delivery.ack()
            }
            left.append(bodies)
        }
        return left
    }

    @Test(arguments: TestTransport.allCases)
    func cancellingAConsumerRequeuesWhatItHeld(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let queue = try await Self.privateQueue(transport)
        try await transport.publish([7], exchange: "", routingKey: queue)
        let first = try await transport.consume(queue: queue, prefetch: 1)
        var iterator = first.makeAsyncIterator()
        let held = try await nextDelivery(&iterator)
        await first.cancel()
        #expect(try await iterator.next() == nil)
        await #expect(throws: TransportError.unknownDeliveryTag(held.deliveryTag)) { try await held.ack() }
        var second = try await transport.consume(queue: queue, prefetch: 1).makeAsyncIterator()
        let redelivered = try await nextDelivery(&second)
        #expect(redelivered.body == [7] && redelivered.redelivered)
        try await redelivered.ack()
        await transport.close()
    }

    /// RabbitMQ's basic.cancel when a consumed queue is deleted (by an operator, or anyone
    /// with configure permission on it): the consumer fails with `.consumerCancelled`, an
    /// error a role recovers from with a new session, instead of ending quietly and leaving
    /// the role alive with no consumer.
    @Test(arguments: TestTransport.allCases)
    func deletingAConsumedQueueCancelsItsConsumerWithAnError(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let queue = TestBroker.uniqueName("deleted")
        try await transport.declareQueue(QueueDeclaration(name: queue, durable: false))
        var deliveries = try await transport.consume(queue: queue, prefetch: 1).makeAsyncIterator()
        let admin = try await connector.connect()
        try await admin.deleteQueue(queue)
        await #expect(throws: TransportError.consumerCancelled(queue: queue)) { _ = try await deliveries.next() }
        #expect(TransportError.consumerCancelled(queue: queue).isRecoverable)
        await admin.close()
        await transport.close()
    }

    @Test(arguments: TestTransport.allCases)
    func brokerErrorsBecomeTheirTransportErrors(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let missing = TestBroker.uniqueName("missing")
        await #expect { try await transport.queueStatus(missing) } throws: { Self.isNotFound($0) }
        await #expect { try await transport.deleteQueue(missing) } throws: { Self.isNotFound($0) }
        await #expect { try await transport.purgeQueue(missing) } throws: { Self.isNotFound($0) }
        await #expect { try await transport.consume(queue: missing, prefetch: 1) } throws: { Self.isNotFound($0) }
        await #expect { try await transport.bindQueue(missing, exchange: missing, routingKey: "") } throws: { Self.isNotFound($0) }
        await #expect { try await transport.publish([1], exchange: missing, routingKey: "k") } throws: { Self.isNotFound($0) }
        await #expect { try await transport.checkExchange(missing) } throws: { Self.isNotFound($0) }
        let exchange = TestBroker.uniqueName("exists")
        try await transport.declareExchange(ExchangeDeclaration(name: exchange, kind: .fanout, durable: false, autoDelete: true))
        try await transport.checkExchange(exchange)

        let queue = try await Self.privateQueue(transport, QueueArguments(maxLength: 1, overflow: .rejectPublish))
        // The failed publish above closed the publishing channel; publishing goes on.
        try await transport.publish([1], exchange: "", routingKey: queue)
        await #expect(throws: TransportError.publishRejected(queue: queue)) {
            try await transport.publish([2], exchange: "", routingKey: queue)
        }
        await #expect(throws: TransportError.unroutable(exchange: "", routingKey: missing)) {
            try await transport.publish([1], exchange: "", routingKey: missing, properties: MessageProperties(), mandatory: true)
        }
        await #expect {
            try await transport.declareQueue(QueueDeclaration(name: queue, durable: false, exclusive: true))
        } throws: {
            if case .preconditionFailed = $0 as? TransportError { true } else { false }
        }
        #expect(try await transport.purgeQueue(queue) == 1)

        let exclusive = try await transport.consume(queue: queue, prefetch: 1, exclusive: true)
        await #expect { try await transport.consume(queue: queue, prefetch: 1) } throws: {
            if case .accessRefused = $0 as? TransportError { true } else { false }
        }
        await exclusive.cancel()
        let other = try await connector.connect()
        await #expect { try await other.queueStatus(queue) } throws: {
            if case .resourceLocked = $0 as? TransportError { true } else { false }
        }
        await other.close()
        await transport.close()
    }

    static func isNotFound(_ error: any Error) -> Bool {
        if case .notFound = error as? TransportError { true } else { false }
    }

    @Test(arguments: TestTransport.allCases)
    func closingEndsConsumersAndLaterCallsFail(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let queue = try await Self.privateQueue(transport)
        let consumer = try await transport.consume(queue: queue, prefetch: 1)
        let draining = Task {
            var count = 0
            for try await _ in consumer { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(100))
        await transport.close()
        #expect(try await draining.value == 0)
        await #expect(throws: TransportError.closed) { try await transport.publish([1], exchange: "", routingKey: queue) }
        await #expect(throws: TransportError.closed) { try await transport.queueStatus(queue) }
    }
}
