import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

/// Part of the serialized broker suite: it stops and starts the broker, so
/// no other broker test may run at the same time.
extension AMQPBrokerTests {
    // Unoptimised: Swift 6.3.1's -O crashes on this function (signal 11 while splitting the coroutine).
    @_optimize(none)
    @Test func consumerResumesAndNoConfirmedMessageIsLost() async throws {
        let queue = TestBroker.uniqueName("restart")
        var topology = try AMQPTopology(definitionsAt: definitionsPath)
        topology.queues.append(AMQPQueue(name: queue, durable: true, arguments: ["x-queue-type": "quorum"]))
        let backoff = ReconnectBackoff(initial: .milliseconds(200), maximum: .seconds(2), maxAttempts: 120)
        let publisher = AMQPReconnectingConnection(configuration: try TestBroker.configuration(), topology: topology, backoff: backoff)
        let consumer = AMQPReconnectingConnection(configuration: try TestBroker.configuration(), topology: topology, backoff: backoff)
        _ = try await publisher.connection()

        let total = 300
        let confirmed = IDSet()
        let received = IDSet()

        let confirmedWhileDown = try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                try await Self.receive(total, from: consumer, queue: queue, into: received)
                return nil
            }
            group.addTask {
                try await Self.publish(total, with: publisher, queue: queue, confirmed: confirmed)
                return nil
            }
            group.addTask {
                while confirmed.ids.withLock({ $0.count }) < 60 { try await Task.sleep(for: .milliseconds(20)) }
                try await TestBroker.runBrokerScript("stop")
                let whileDown = confirmed.ids.withLock { $0.count }
                try await TestBroker.runBrokerScript("start")
                return whileDown
            }
            var whileDown = 0
            for try await result in group { if let result { whileDown = result } }
            return whileDown
        }

        let confirmedIds = confirmed.ids.withLock { $0 }
        let receivedIds = received.ids.withLock { $0 }
        #expect(confirmedWhileDown < total, "the restart happened mid-stream")
        #expect(confirmedIds.count == total)
        #expect(confirmedIds.subtracting(receivedIds).isEmpty, "confirmed but never received: \(confirmedIds.subtracting(receivedIds).sorted())")
        let reconnects = (consumer: await consumer.reconnects, publisher: await publisher.reconnects)
        #expect(reconnects.consumer >= 1)
        #expect(reconnects.publisher >= 1)

        let cleanup = try await consumer.connection().openChannel()
        try await cleanup.deleteQueue(queue)
        await publisher.close()
        await consumer.close()
    }

    /// Consumes until `total` distinct ids arrived (or 60 s passed). A lost ack means a
    /// redelivery, never a loss, so ack failures are ignored.
    private static func receive(
        _ total: Int, from consumer: AMQPReconnectingConnection, queue: String, into received: IDSet
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        for try await delivery in consumer.consume(queue: queue, prefetch: 32) {
            let id = Int(delivery.properties.messageId ?? "") ?? -1
            do { try await delivery.ack() } catch {}
            let done = received.ids.withLock { received in
                received.insert(id)
                return received.count >= total
            }
            if done || ContinuousClock.now > deadline { return }
        }
    }

    /// Publishes ids `0..<total` one by one, recording each id once its publish was confirmed.
    private static func publish(
        _ total: Int, with publisher: AMQPReconnectingConnection, queue: String, confirmed: IDSet
    ) async throws {
        for id in 0..<total {
            try await publisher.publish(Data("update \(id)".utf8), exchange: "", routingKey: queue,
                                        properties: AMQPProperties(messageId: "\(id)", deliveryMode: .persistent))
            confirmed.ids.withLock { _ = $0.insert(id) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Ids seen by one side of the restart test, shared between the test and its tasks
/// (a `Mutex` alone is noncopyable and cannot be passed around).
private final class IDSet: Sendable {
    let ids = Mutex<Set<Int>>([])
}
