import FedCore
import Messaging
import Testing

@Suite(.timeLimit(.minutes(1)))
struct EmbeddedBrokerTopologyTests {
    @Test func redeclaringWithOtherArgumentsFails() async throws {
        let broker = try await brokerWithDeadLetters()
        // The same declaration again is a no-op.
        try await broker.declareExchange(ExchangeDeclaration(name: "updates", kind: .direct))
        try await broker.declareQueue(QueueDeclaration(name: "dead"))
        await #expect(throws: TransportError.preconditionFailed("inequivalent declaration of queue 'dead'")) {
            try await broker.declareQueue(QueueDeclaration(name: "dead", arguments: QueueArguments(maxLength: 5)))
        }
        await #expect(throws: TransportError.preconditionFailed("inequivalent declaration of exchange 'updates'")) {
            try await broker.declareExchange(ExchangeDeclaration(name: "updates", kind: .fanout))
        }
    }

    @Test func missingThingsAreNotFound() async throws {
        let broker = EmbeddedBroker()
        await #expect(throws: TransportError.notFound("queue 'nope'")) { try await broker.consume(queue: "nope", prefetch: 1) }
        await #expect(throws: TransportError.notFound("queue 'nope'")) { try await broker.deleteQueue("nope") }
        await #expect(throws: TransportError.notFound("exchange 'nope'")) {
            try await broker.bindQueue("q", exchange: "nope", routingKey: "")
        }
    }

    @Test func exclusiveConsumerLocksOthersOut() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareQueue(QueueDeclaration(name: "q"))
        let owner = try await broker.consume(queue: "q", prefetch: 1, exclusive: true)
        await #expect(throws: TransportError.accessRefused("queue 'q' is consumed exclusively")) {
            try await broker.consume(queue: "q", prefetch: 1)
        }
        await owner.cancel()
        _ = try await broker.consume(queue: "q", prefetch: 1)
    }

    @Test func unsupportedAndReservedDeclarationsAreRefused() async throws {
        let broker = EmbeddedBroker()
        await #expect(throws: TransportError.preconditionFailed("a stream queue must be durable, not exclusive and not auto-delete")) {
            try await broker.declareQueue(QueueDeclaration(name: "s", autoDelete: true, arguments: QueueArguments(queueType: .stream)))
        }
        await #expect(throws: TransportError.preconditionFailed("x-max-length does not apply to a stream queue")) {
            try await broker.declareQueue(QueueDeclaration(name: "s", arguments: QueueArguments(queueType: .stream, maxLength: 10)))
        }
        let queue = try await broker.declareQueue(QueueDeclaration(name: "q"))
        await #expect(throws: TransportError.preconditionFailed("queue 'q' is not a stream")) {
            _ = try await broker.consume(stream: queue.name, prefetch: 1, from: .first)
        }
        await #expect(throws: TransportError.accessRefused("exchange name 'amq.direct' is reserved")) {
            try await broker.declareExchange(ExchangeDeclaration(name: "amq.direct", kind: .direct))
        }
    }

    @Test func deletingAQueueCancelsItsConsumers() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareQueue(QueueDeclaration(name: "q"))
        var iterator = try await broker.consume(queue: "q", prefetch: 1).makeAsyncIterator()
        try await broker.deleteQueue("q")
        await #expect(throws: TransportError.consumerCancelled(queue: "q")) { _ = try await iterator.next() }
    }

    @Test func argumentsTableUsesRabbitMQNames() {
        let arguments = QueueArguments(
            queueType: .quorum, maxLength: 1, overflow: .dropHead, deadLetterExchange: "fedq.dead",
            deadLetterRoutingKey: "dead", singleActiveConsumer: true)
        #expect(
            arguments.table == [
                "x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "drop-head",
                "x-dead-letter-exchange": "fedq.dead", "x-dead-letter-routing-key": "dead",
                "x-single-active-consumer": true,
            ])
    }
}
