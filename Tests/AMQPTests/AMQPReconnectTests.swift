import AMQP
import Foundation
import Synchronization
import Testing

/// Part of the serialized broker suite: it stops and starts the broker, so
/// no other broker test may run at the same time.
extension AMQPBrokerTests {
    @Test func consumerResumesAndNoConfirmedMessageIsLost() async throws {
        let queue = TestBroker.uniqueName("restart")
        var topology = try AMQPTopology(definitionsAt: definitionsPath)
        topology.queues.append(AMQPQueue(name: queue, durable: true, arguments: ["x-queue-type": "quorum"]))
        let backoff = ReconnectBackoff(initial: .milliseconds(200), maximum: .seconds(2), maxAttempts: 120)
        let publisher = AMQPReconnectingConnection(configuration: try TestBroker.configuration(), topology: topology, backoff: backoff)
        let consumer = AMQPReconnectingConnection(configuration: try TestBroker.configuration(), topology: topology, backoff: backoff)
        _ = try await publisher.connection()

        let total = 300
        let confirmed = Mutex<Set<Int>>([])
        let received = Mutex<Set<Int>>([])

        let consuming = Task {
            for try await delivery in consumer.consume(queue: queue, prefetch: 32) {
                let id = Int(delivery.properties.messageId ?? "") ?? -1
                try? await delivery.ack() // a lost ack means a redelivery, never a loss
                let done = received.withLock { received in
                    received.insert(id)
                    return received.count >= total
                }
                if done { return }
            }
        }
        let publishing = Task {
            for id in 0..<total {
                try await publisher.publish(Data("update \(id)".utf8), exchange: "", routingKey: queue,
                                            properties: AMQPProperties(messageId: "\(id)", deliveryMode: .persistent))
                confirmed.withLock { _ = $0.insert(id) }
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        while confirmed.withLock({ $0.count }) < 60 { try await Task.sleep(for: .milliseconds(20)) }
        try await TestBroker.runBrokerScript("stop")
        let confirmedWhileDown = confirmed.withLock { $0.count }
        try await TestBroker.runBrokerScript("start")

        try await publishing.value
        let waitUntil = ContinuousClock.now + .seconds(60)
        while received.withLock({ $0.count }) < total && ContinuousClock.now < waitUntil {
            try await Task.sleep(for: .milliseconds(50))
        }
        consuming.cancel()

        let confirmedIds = confirmed.withLock { $0 }
        let receivedIds = received.withLock { $0 }
        #expect(confirmedWhileDown < total, "the restart happened mid-stream")
        #expect(confirmedIds.count == total)
        #expect(confirmedIds.subtracting(receivedIds).isEmpty, "confirmed but never received: \(confirmedIds.subtracting(receivedIds).sorted())")
        #expect(await consumer.reconnects >= 1)
        #expect(await publisher.reconnects >= 1)

        let cleanup = try await consumer.connection().openChannel()
        try await cleanup.deleteQueue(queue)
        await publisher.close()
        await consumer.close()
    }
}
