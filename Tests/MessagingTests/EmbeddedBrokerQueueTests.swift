import FedCore
import Messaging
import Testing

@Suite(.timeLimit(.minutes(1)))
struct EmbeddedBrokerQueueTests {
    @Test func maxLengthDropHeadKeepsTheNewestAndDeadLettersTheRest() async throws {
        let broker = try await brokerWithDeadLetters(
            updateArguments: QueueArguments(maxLength: 1, overflow: .dropHead))
        for version in 1...3 {
            try await broker.publish([UInt8(version)], exchange: "updates", routingKey: "u", properties: message("v\(version)"))
        }
        #expect(try await broker.queueStatus("updates").messageCount == 1)
        var updates = try await broker.consume(queue: "updates", prefetch: 1).makeAsyncIterator()
        #expect(try await nextDelivery(&updates).properties.messageID == "v3")

        var dead = try await broker.consume(queue: "dead", prefetch: 0).makeAsyncIterator()
        for version in 1...2 {
            let dropped = try await nextDelivery(&dead)
            #expect(dropped.properties.messageID == "v\(version)")
            #expect(dropped.properties.deaths.first?.reason == "maxlen")
        }
    }

    @Test func maxLengthCountsOnlyReadyMessages() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareQueue(QueueDeclaration(name: "models", arguments: QueueArguments(maxLength: 1)))
        var iterator = try await broker.consume(queue: "models", prefetch: 1).makeAsyncIterator()
        try await broker.publish([1], exchange: "", routingKey: "models")
        try await broker.publish([2], exchange: "", routingKey: "models")
        try await broker.publish([3], exchange: "", routingKey: "models")
        #expect(try await nextDelivery(&iterator).body == [1])  // delivered at once, not counted
        #expect(try await broker.queueStatus("models").messageCount == 1)  // [2] dropped for [3]
    }

    @Test func purgeDeletesReadyMessagesButNotUnacknowledgedOnes() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareQueue(QueueDeclaration(name: "updates"))
        for byte in 1...3 { try await broker.publish([UInt8(byte)], exchange: "", routingKey: "updates") }
        var iterator = try await broker.consume(queue: "updates", prefetch: 1).makeAsyncIterator()
        let held = try await nextDelivery(&iterator)
        #expect(try await broker.purgeQueue("updates") == 2)
        #expect(try await broker.queueStatus("updates").messageCount == 0)
        try await held.nack(requeue: true)
        #expect(try await nextDelivery(&iterator).body == [1])
        await #expect(throws: TransportError.notFound("queue 'nowhere'")) { try await broker.purgeQueue("nowhere") }
    }

    @Test func maxLengthRejectPublishNacksThePublisher() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareQueue(
            QueueDeclaration(name: "bounded", arguments: QueueArguments(maxLength: 2, overflow: .rejectPublish)))
        try await broker.publish([1], exchange: "", routingKey: "bounded")
        try await broker.publish([2], exchange: "", routingKey: "bounded")
        await #expect(throws: TransportError.publishRejected(queue: "bounded")) {
            try await broker.publish([3], exchange: "", routingKey: "bounded")
        }
        #expect(try await broker.queueStatus("bounded").messageCount == 2)
    }

    @Test func fanoutReachesEveryBoundQueueSharingOneBody() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareExchange(ExchangeDeclaration(name: "models", kind: .fanout))
        var names: [String] = []
        for _ in 0..<3 {
            let status = try await broker.declareQueue(QueueDeclaration(name: "", durable: false, exclusive: true, autoDelete: true))
            try await broker.bindQueue(status.name, exchange: "models", routingKey: "")
            names.append(status.name)
        }
        #expect(Set(names).count == 3)
        let body = [UInt8](repeating: 1, count: 200_000)
        try await broker.publish(body, exchange: "models", routingKey: "ignored")
        let address = body.withUnsafeBufferPointer { $0.baseAddress }
        for name in names {
            #expect(try await broker.queueStatus(name).messageCount == 1)
            var iterator = try await broker.consume(queue: name, prefetch: 1).makeAsyncIterator()
            let delivery = try await nextDelivery(&iterator)
            #expect(delivery.body == body)
            #expect(delivery.body.withUnsafeBufferPointer { $0.baseAddress } == address)
        }
    }

    @Test func directRoutingMatchesTheKey() async throws {
        let broker = try await brokerWithDeadLetters()
        try await broker.publish([1], exchange: "updates", routingKey: "other")
        #expect(try await broker.queueStatus("updates").messageCount == 0)
        await #expect(throws: TransportError.unroutable(exchange: "updates", routingKey: "other")) {
            try await broker.publish([1], exchange: "updates", routingKey: "other", properties: MessageProperties(), mandatory: true)
        }
        await #expect(throws: TransportError.notFound("exchange 'missing'")) {
            try await broker.publish([1], exchange: "missing", routingKey: "u")
        }
        try await broker.publish([1], exchange: "updates", routingKey: "u")
        #expect(try await broker.queueStatus("updates").messageCount == 1)
    }

    @Test func cancellingAConsumerReturnsItsUnsettledMessages() async throws {
        let broker = try await brokerWithDeadLetters()
        for number in 0..<2 {
            try await broker.publish([UInt8(number)], exchange: "updates", routingKey: "u", properties: message("m\(number)"))
        }
        let crashed = try await broker.consume(queue: "updates", prefetch: 2)
        var crashedIterator = crashed.makeAsyncIterator()
        let held = try await nextDelivery(&crashedIterator)
        await crashed.cancel()
        #expect(try await crashedIterator.next() == nil)
        #expect(try await broker.queueStatus("updates") == QueueStatus(name: "updates", messageCount: 2, consumerCount: 0))
        await #expect(throws: TransportError.unknownDeliveryTag(held.deliveryTag)) { try await held.ack() }

        var survivor = try await broker.consume(queue: "updates", prefetch: 5).makeAsyncIterator()
        for number in 0..<2 {
            let delivery = try await nextDelivery(&survivor)
            #expect(delivery.properties.messageID == "m\(number)")
            #expect(delivery.redelivered)
        }
    }

    @Test func aConsumerWhoseTaskIsCancelledReturnsItsMessages() async throws {
        let broker = try await brokerWithDeadLetters()
        try await broker.publish([1], exchange: "updates", routingKey: "u")
        let consumer = try await broker.consume(queue: "updates", prefetch: 1)
        let task = Task {
            var iterator = consumer.makeAsyncIterator()
            _ = try await iterator.next()  // held, never settled
            _ = try await iterator.next()  // waits until cancelled
        }
        #expect(try await eventually { try await broker.queueStatus("updates").messageCount == 0 })
        task.cancel()
        #expect(try await eventually { try await broker.queueStatus("updates") == QueueStatus(name: "updates", messageCount: 1, consumerCount: 0) })
    }

    @Test func autoDeleteQueueGoesWithItsLastConsumer() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareExchange(ExchangeDeclaration(name: "models", kind: .fanout))
        let queue = try await broker.declareQueue(QueueDeclaration(name: "", durable: false, autoDelete: true)).name
        try await broker.bindQueue(queue, exchange: "models", routingKey: "")
        let consumer = try await broker.consume(queue: queue, prefetch: 1)
        try await broker.publish([1], exchange: "models", routingKey: "", properties: MessageProperties(), mandatory: true)
        await consumer.cancel()
        await #expect(throws: TransportError.notFound("queue '\(queue)'")) { try await broker.queueStatus(queue) }
        await #expect(throws: TransportError.unroutable(exchange: "models", routingKey: "")) {
            try await broker.publish([1], exchange: "models", routingKey: "", properties: MessageProperties(), mandatory: true)
        }
    }

    @Test func singleActiveConsumerServesOneConsumerAtATime() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareQueue(QueueDeclaration(name: "partials", arguments: QueueArguments(singleActiveConsumer: true)))
        let active = try await broker.consume(queue: "partials", prefetch: 5)
        let standby = try await broker.consume(queue: "partials", prefetch: 5)
        for number in 0..<3 { try await broker.publish([UInt8(number)], exchange: "", routingKey: "partials") }
        var activeIterator = active.makeAsyncIterator()
        for number in 0..<3 { #expect(try await nextDelivery(&activeIterator).body == [UInt8(number)]) }
        await active.cancel()
        var standbyIterator = standby.makeAsyncIterator()
        for number in 0..<3 {
            let delivery = try await nextDelivery(&standbyIterator)
            #expect(delivery.body == [UInt8(number)])
            #expect(delivery.redelivered)
        }
    }

    @Test func closingEndsConsumersAndRefusesWork() async throws {
        let broker = try await brokerWithDeadLetters()
        var iterator = try await broker.consume(queue: "updates", prefetch: 1).makeAsyncIterator()
        await broker.close()
        #expect(try await iterator.next() == nil)
        await #expect(throws: TransportError.closed) { try await broker.publish([1], exchange: "updates", routingKey: "u") }
    }
}
