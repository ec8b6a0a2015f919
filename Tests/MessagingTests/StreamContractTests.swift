import FedCore
import RabbitMQTransport
import Foundation
import TestSupport
import Testing
@testable import Messaging

/// Stream queues, on the embedded broker and on the RabbitMQ node of `scripts/test.sh`:
/// readers start where they ask, every reader reads every message, each delivery carries
/// its offset, and acknowledging removes nothing (the updates path as a log, issue 21).
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct StreamContractTests {
    /// Reads `count` deliveries, acking each, and returns (offset, first body byte) pairs.
    static func read(_ count: Int, from consumer: Consumer) async throws -> [Pair] {
        var iterator = consumer.makeAsyncIterator()
        var read: [Pair] = []
        for _ in 0..<count {
            let delivery = try await nextDelivery(&iterator)
            read.append(Pair(offset: delivery.streamOffset, body: delivery.body.first))
            try await delivery.ack()
        }
        return read
    }

    struct Pair: Equatable, CustomStringConvertible {
        var offset: UInt64?
        var body: UInt8?
        var description: String { "\(offset.map(String.init) ?? "nil"):\(body.map(String.init) ?? "nil")" }
    }

    static func pairs(_ range: ClosedRange<UInt8>) -> [Pair] { range.map { Pair(offset: UInt64($0), body: $0) } }

    @Test(arguments: TestTransport.allCases)
    func readersStartWhereTheyAskAndAcksRemoveNothing(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let stream = TestBroker.uniqueName("stream")
        try await transport.declareQueue(QueueDeclaration(name: stream, arguments: QueueArguments(queueType: .stream)))
        for value in UInt8(0)...4 {
            try await transport.publish([value], exchange: "", routingKey: stream, properties: MessageProperties(), mandatory: true)
        }
        // Two readers of one stream do not compete: each gets every message, with its offset.
        let fromFirst = try await transport.consume(stream: stream, prefetch: 2, from: .first)
        let fromThree = try await transport.consume(stream: stream, prefetch: 2, from: .offset(3))
        #expect(try await Self.read(5, from: fromFirst) == Self.pairs(0...4))
        #expect(try await Self.read(2, from: fromThree) == Self.pairs(3...4))
        // Acknowledged by both, and still all there for a new reader.
        let again = try await transport.consume(stream: stream, prefetch: 8, from: .first)
        #expect(try await Self.read(5, from: again) == Self.pairs(0...4))
        // A reader of `.next` sees only what comes after it started; the others see it too.
        let fromNext = try await transport.consume(stream: stream, prefetch: 1, from: .next)
        try await Task.sleep(for: .milliseconds(200))  // RabbitMQ attaches the reader asynchronously
        try await transport.publish([5], exchange: "", routingKey: stream, properties: MessageProperties(), mandatory: true)
        #expect(try await Self.read(1, from: fromNext) == Self.pairs(5...5))
        #expect(try await Self.read(1, from: fromThree) == Self.pairs(5...5))
        await fromFirst.cancel()
        await fromThree.cancel()
        await again.cancel()
        await fromNext.cancel()
        try await transport.deleteQueue(stream)
        await transport.close()
    }

    /// Offsets inside a chunk: RabbitMQ stores a stream in chunks of messages written
    /// together and may start a reader at its chunk's first message, before the offset it
    /// asked for. What a reader of `.offset(n)` must see first, after skipping those, is `n`.
    @Test(arguments: TestTransport.allCases)
    func aReaderOfAnOffsetInsideAChunkGetsThatOffset(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let stream = TestBroker.uniqueName("stream")
        try await transport.declareQueue(QueueDeclaration(name: stream, arguments: QueueArguments(queueType: .stream)))
        // Published concurrently, so that the broker writes them in chunks of several.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    for index in stride(from: lane, to: 600, by: 8) {
                        try await transport.publish(
                            [UInt8(truncatingIfNeeded: index)], exchange: "", routingKey: stream, properties: MessageProperties(), mandatory: true)
                    }
                }
            }
            try await group.waitForAll()
        }
        for start: UInt64 in [1, 257, 498, 599] {
            let reader = try await transport.consume(stream: stream, prefetch: 16, from: .offset(start))
            var iterator = reader.makeAsyncIterator()
            var first: UInt64?
            while first == nil {
                let delivery = try await nextDelivery(&iterator)
                try await delivery.ack()
                if let offset = delivery.streamOffset, offset >= start { first = offset }
            }
            #expect(first == start)
            await reader.cancel()
        }
        try await transport.deleteQueue(stream)
        await transport.close()
    }

    /// Retention (`x-max-length-bytes`) removes the oldest messages: a reader of `.first`, and
    /// a reader of an offset that was removed, both start at the oldest message still held,
    /// and what follows is whole and in order.
    @Test(arguments: TestTransport.allCases)
    func aReaderOfAnOffsetRetentionRemovedStartsAtTheOldestHeld(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let stream = TestBroker.uniqueName("stream")
        var arguments = QueueArguments(queueType: .stream)
        arguments.maxLengthBytes = 8_192
        arguments.maxSegmentSizeBytes = 4_096
        try await transport.declareQueue(QueueDeclaration(name: stream, arguments: arguments))
        // 200 messages of 500 bytes, each starting with its number (mod 256) then its number's high byte.
        for index in 0..<200 {
            let body = [UInt8(index & 0xFF), UInt8(index >> 8)] + [UInt8](repeating: 7, count: 498)
            try await transport.publish(body, exchange: "", routingKey: stream, properties: MessageProperties(), mandatory: true)
        }
        func firstHeld(from offset: StreamOffset) async throws -> (offset: UInt64, index: Int, rest: [Int], offsets: [UInt64]) {
            let reader = try await transport.consume(stream: stream, prefetch: 64, from: offset)
            var iterator = reader.makeAsyncIterator()
            var read: [(UInt64, Int)] = []
            repeat {
                let delivery = try await nextDelivery(&iterator)
                try await delivery.ack()
                read.append((delivery.streamOffset ?? .max, Int(delivery.body[0]) | Int(delivery.body[1]) << 8))
            } while read.last?.1 != 199
            await reader.cancel()
            return (read[0].0, read[0].1, read.map(\.1), read.map(\.0))
        }
        let fromFirst = try await firstHeld(from: .first)
        let fromZero = try await firstHeld(from: .offset(0))
        #expect(fromFirst.offset == fromZero.offset && fromFirst.index == fromZero.index)
        // About 8 KB kept (RabbitMQ: whole 4 KB segments, so somewhat more): the first ~170 are gone.
        #expect(fromFirst.index > 150 && fromFirst.index < 195, "oldest held: message \(fromFirst.index)")
        #expect(fromFirst.offset >= UInt64(fromFirst.index), "offsets only grow past message numbers (tracking chunks)")
        #expect(fromFirst.rest == Array(fromFirst.index...199))
        // Between messages, offsets step by one, or by two over a segment's tracking chunk:
        // what a worker relies on to tell a step from a loss (`UpdateSource.removedByRetention`).
        let steps = zip(fromFirst.offsets, fromFirst.offsets.dropFirst()).map { $1 - $0 }
        #expect(steps.allSatisfy { $0 == 1 || $0 == 2 }, "\(steps)")
        try await transport.deleteQueue(stream)
        await transport.close()
    }

    @Test(arguments: TestTransport.allCases)
    func aStreamReaderNeedsCreditAndAQueueIsNotAStream(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let transport = try await connector.connect()
        let stream = TestBroker.uniqueName("stream")
        try await transport.declareQueue(QueueDeclaration(name: stream, arguments: QueueArguments(queueType: .stream)))
        await #expect(throws: TransportError.self) { _ = try await transport.consume(stream: stream, prefetch: 0, from: .first) }
        await #expect(throws: TransportError.self) {
            try await transport.declareQueue(QueueDeclaration(
                name: TestBroker.uniqueName("stream"), durable: false, exclusive: true, arguments: QueueArguments(queueType: .stream)))
        }
        let connection = try await connector.connect()
        try await connection.deleteQueue(stream)
        await connection.close()
        await transport.close()
    }
}
