import FedCore
import Messaging
import Synchronization
import Testing

/// Message ids each consumer received, shared by the consumers' tasks.
final class ReceivedIDs: Sendable {
    let lists: Mutex<[[String]]>

    init(consumers: Int) { lists = Mutex(Array(repeating: [], count: consumers)) }
}

@Suite(.timeLimit(.minutes(1)))
struct EmbeddedBrokerDeliveryTests {
    @Test func competingConsumersGetDisjointMessagesAndTogetherAll() async throws {
        let broker = try await brokerWithDeadLetters()
        let total = 600
        let body = [UInt8](repeating: 7, count: 200_000)  // shared, as the broker never copies
        let consumers = [
            try await broker.consume(queue: "updates", prefetch: 4),
            try await broker.consume(queue: "updates", prefetch: 1),
            try await broker.consume(queue: "updates", prefetch: 10),
        ]
        let received = ReceivedIDs(consumers: consumers.count)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, consumer) in consumers.enumerated() {
                group.addTask {
                    for try await delivery in consumer {
                        #expect(delivery.body.count == body.count)
                        try await delivery.ack()
                        let seen = received.lists.withLock { lists in
                            lists[index].append(delivery.properties.messageID ?? "")
                            return lists.map(\.count).reduce(0, +)
                        }
                        if seen == total { for consumer in consumers { await consumer.cancel() } }
                    }
                }
            }
            group.addTask {
                for number in 0..<total {
                    try await broker.publish(body, exchange: "updates", routingKey: "u", properties: message("m\(number)"))
                }
            }
            try await group.waitForAll()
        }
        let lists = received.lists.withLock { $0 }
        let all = lists.flatMap { $0 }
        #expect(all.count == total)
        #expect(Set(all) == Set((0..<total).map { "m\($0)" }))
        #expect(lists.allSatisfy { !$0.isEmpty })
        #expect(try await broker.queueStatus("updates").messageCount == 0)
    }

    @Test func prefetchBoundsUnsettledDeliveriesPerConsumer() async throws {
        let broker = try await brokerWithDeadLetters()
        for number in 0..<10 {
            try await broker.publish([UInt8(number)], exchange: "updates", routingKey: "u")
        }
        let first = try await broker.consume(queue: "updates", prefetch: 3)
        #expect(try await broker.queueStatus("updates").messageCount == 7)
        let second = try await broker.consume(queue: "updates", prefetch: 2)
        #expect(try await broker.queueStatus("updates") == QueueStatus(name: "updates", messageCount: 5, consumerCount: 2))

        var iterator = first.makeAsyncIterator()
        let delivery = try await nextDelivery(&iterator)
        #expect(delivery.body == [0])
        try await delivery.ack()
        #expect(try await broker.queueStatus("updates").messageCount == 4)  // the freed slot took one more
        _ = second
    }

    @Test func nackWithRequeueRedeliversWithTheFlag() async throws {
        let broker = try await brokerWithDeadLetters()
        try await broker.publish([1, 2, 3], exchange: "updates", routingKey: "u", properties: message("a"))
        try await broker.publish([4], exchange: "updates", routingKey: "u", properties: message("b"))
        var iterator = try await broker.consume(queue: "updates", prefetch: 1).makeAsyncIterator()
        let first = try await nextDelivery(&iterator)
        #expect(!first.redelivered)
        try await first.nack(requeue: true)
        let again = try await nextDelivery(&iterator)
        #expect(again.properties.messageID == "a")
        #expect(again.body == [1, 2, 3])
        #expect(again.redelivered)
        #expect(again.deliveryTag != first.deliveryTag)
        try await again.ack()
        #expect(!(try await nextDelivery(&iterator)).redelivered)
        #expect(try await broker.queueStatus("dead").messageCount == 0)
    }

    @Test(arguments: [DeliveryOutcome.reject(requeue: false), .nack(requeue: false)])
    func settlingWithoutRequeueDeadLettersWithTheReason(outcome: DeliveryOutcome) async throws {
        let broker = try await brokerWithDeadLetters()
        try await broker.publish([9, 9], exchange: "updates", routingKey: "u", properties: message("poison", headers: ["client": 7]))
        var updates = try await broker.consume(queue: "updates", prefetch: 1).makeAsyncIterator()
        let delivery = try await nextDelivery(&updates)
        if case .nack = outcome { try await delivery.nack(requeue: false) } else { try await delivery.reject(requeue: false) }

        var dead = try await broker.consume(queue: "dead", prefetch: 1).makeAsyncIterator()
        let deadLetter = try await nextDelivery(&dead)
        #expect(deadLetter.body == [9, 9])
        #expect(deadLetter.exchange == "dead")
        #expect(deadLetter.routingKey == "u")
        #expect(deadLetter.properties.messageID == "poison")
        #expect(deadLetter.properties.headers["client"] == 7)
        #expect(deadLetter.properties.deaths == [.init(reason: "rejected", queue: "updates", count: 1)])
        #expect(deadLetter.properties.headers["x-first-death-reason"] == "rejected")
        #expect(deadLetter.properties.headers["x-first-death-queue"] == "updates")
        #expect(try await broker.queueStatus("updates").messageCount == 0)
    }

    @Test func rejectWithoutDeadLetterExchangeDropsTheMessage() async throws {
        let broker = EmbeddedBroker()
        try await broker.declareQueue(QueueDeclaration(name: "plain"))
        try await broker.publish([1], exchange: "", routingKey: "plain")
        var iterator = try await broker.consume(queue: "plain", prefetch: 1).makeAsyncIterator()
        try await nextDelivery(&iterator).reject(requeue: false)
        #expect(try await broker.queueStatus("plain").messageCount == 0)
    }

    @Test func settlingTwiceIsAnError() async throws {
        let broker = try await brokerWithDeadLetters()
        try await broker.publish([1], exchange: "updates", routingKey: "u")
        var iterator = try await broker.consume(queue: "updates", prefetch: 1).makeAsyncIterator()
        let delivery = try await nextDelivery(&iterator)
        try await delivery.ack()
        await #expect(throws: TransportError.unknownDeliveryTag(delivery.deliveryTag)) { try await delivery.ack() }
    }
}
