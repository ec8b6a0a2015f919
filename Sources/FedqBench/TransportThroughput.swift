import Foundation
import Messaging
import Synchronization

/// Measures how fast a transport moves messages the way the pipeline does: publishers
/// awaiting each confirm, competing consumers acking each delivery under a prefetch.
/// Runs over any `Transport`, so `fedq bench` can put the embedded broker and RabbitMQ
/// side by side with the same code.
public struct TransportThroughput: Sendable {
    public var messages: Int
    public var bodyBytes: Int
    public var publishers: Int
    public var consumers: Int
    public var prefetch: Int

    public init(messages: Int, bodyBytes: Int, publishers: Int = 2, consumers: Int = 2, prefetch: Int = 16) {
        self.messages = messages
        self.bodyBytes = bodyBytes
        self.publishers = publishers
        self.consumers = consumers
        self.prefetch = prefetch
    }

    /// What one run moved and how long it took.
    public struct Result: Sendable, Equatable {
        /// Messages consumed and acked (equals the messages published when nothing is lost).
        public let messagesConsumed: Int
        public let bytes: Int
        public let seconds: Double

        public var messagesPerSecond: Double { Double(messagesConsumed) / seconds }
        public var megabytesPerSecond: Double { Double(bytes) / 1e6 / seconds }
    }

    /// Publishes `messages` bodies of `bodyBytes` to a fresh auto-delete queue and
    /// consumes them all, timing from the first publish to the last ack.
    /// - Throws: `TransportError` from the transport, or `.preconditionFailed` when
    ///   there is not at least one message, publisher and consumer.
    public func run(on transport: some Transport) async throws -> Result {
        guard messages > 0, publishers > 0, consumers > 0, bodyBytes >= 0, prefetch >= 0 else {
            throw TransportError.preconditionFailed("a throughput run needs at least one message, publisher and consumer")
        }
        let queue = try await transport.declareQueue(QueueDeclaration(name: "", durable: false, autoDelete: true)).name
        let body = [UInt8](repeating: 0xA5, count: bodyBytes)
        let remaining = Countdown(messages)
        let consumerList = try await (0..<consumers).asyncMap { _ in
            try await transport.consume(queue: queue, prefetch: prefetch)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let consumed = try await withThrowingTaskGroup(of: Int.self) { group in
            for consumer in consumerList {
                group.addTask {
                    var count = 0
                    for try await delivery in consumer {
                        try await delivery.ack()
                        count += 1
                        if remaining.decrement() { for consumer in consumerList { await consumer.cancel() } }
                    }
                    return count
                }
            }
            for publisher in 0..<publishers {
                let share = messages / publishers + (publisher < messages % publishers ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { try await transport.publish(body, exchange: "", routingKey: queue) }
                    return 0
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        let seconds = elapsed.seconds
        return Result(messagesConsumed: consumed, bytes: consumed * bodyBytes, seconds: seconds)
    }
}

/// Counts acks down to zero across consumer tasks; true exactly once, at zero.
private final class Countdown: Sendable {
    private let remaining: Atomic<Int>

    init(_ count: Int) { remaining = Atomic(count) }

    func decrement() -> Bool { remaining.subtract(1, ordering: .relaxed).newValue == 0 }
}

extension Range where Bound == Int {
    fileprivate func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
