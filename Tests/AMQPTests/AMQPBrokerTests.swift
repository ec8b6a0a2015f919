import AMQP
import Foundation
import Synchronization
import TestSupport
import Testing

@Suite("Against the real broker", .serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct AMQPBrokerTests {
    static let headers: AMQPTable = [
        "model-version": .int(42), "codec": .string("int8"), "stale": .bool(false), "norm": .double(1.5),
        "blob": .bytes([0, 1, 2, 255]), "nested": .table(["k": .string("v")]), "list": .array([.int(1), .string("two")]),
    ]

    static func properties(_ id: String) -> AMQPProperties {
        AMQPProperties(messageId: id, contentType: "application/x-fedq", contentEncoding: "identity",
                       timestamp: Date(timeIntervalSince1970: 1_764_000_000), deliveryMode: .persistent,
                       headers: headers, correlationId: "corr-\(id)", type: "update", appId: "fedq-tests")
    }

    @Test(arguments: [1, 200_000, 8_000_000])
    func roundTripKeepsBodyPropertiesAndHeaders(size: Int) async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName("roundtrip")
        try await channel.declare(AMQPQueue(name: queue, durable: false, exclusive: true))
        let body = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let publisher = try await connection.makePublisher()
        try await publisher.publish(body, exchange: "", routingKey: queue, properties: Self.properties("m-\(size)"))

        let consumer = try await channel.consume(queue: queue, prefetch: 4)
        var iterator = consumer.makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        #expect(delivery.body == [UInt8](body))
        #expect(delivery.properties == Self.properties("m-\(size)"))
        #expect(delivery.routingKey == queue)
        #expect(!delivery.redelivered)
        try await delivery.ack()
        #expect(try await channel.declare(AMQPQueue(name: queue, durable: false, exclusive: true)).messageCount == 0)
        await connection.close()
    }

    @Test func basicGetReturnsMessagesThenNil() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName("get")
        try await channel.declare(AMQPQueue(name: queue, durable: false, exclusive: true))
        let publisher = try await connection.makePublisher()
        try await publisher.publish(Data("one".utf8), exchange: "", routingKey: queue)
        try await publisher.publish(Data("two".utf8), exchange: "", routingKey: queue)
        let first = try #require(try await channel.get(queue: queue))
        #expect(first.body == Array("one".utf8))
        #expect(first.messageCount == 1)
        try await first.ack()
        let second = try #require(try await channel.get(queue: queue))
        try await second.reject(requeue: true)
        let again = try #require(try await channel.get(queue: queue, autoAck: true))
        #expect(again.body == Array("two".utf8))
        #expect(again.redelivered)
        #expect(try await channel.get(queue: queue) == nil)
        await connection.close()
    }

    @Test func confirmsPipelineManyPublishes() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName("confirms")
        try await channel.declare(AMQPQueue(name: queue, durable: true, autoDelete: false))
        let publisher = try await connection.makePublisher(window: 32)
        let count = 500
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await publisher.publish(Data(repeating: UInt8(index % 256), count: 1000), exchange: "", routingKey: queue,
                                                properties: AMQPProperties(messageId: "\(index)", deliveryMode: .persistent))
                }
            }
            try await group.waitForAll()
        }
        #expect(try await channel.declare(AMQPQueue(name: queue), passive: true).messageCount == count)
        #expect(try await channel.deleteQueue(queue) == count)
        await connection.close()
    }

    /// A memory alarm pauses publishing. RabbitMQ blocks a connection when it publishes
    /// during the alarm and says so (`connection.blocked`, which the client asks for):
    /// later publishes then wait in the session, unwritten, so the connection thread never
    /// sits in a socket write the broker is not reading; one cancelled meanwhile returns at
    /// once and is never sent; when the alarm clears the first is confirmed.
    @Test func aResourceAlarmHoldsPublishesAndACancelledOneIsNeverSent() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.uniqueName("alarm")
        try await channel.declare(AMQPQueue(name: queue, durable: false, exclusive: true))
        let publisher = try await connection.makePublisher()
        try await publisher.publish(Data("before".utf8), exchange: "", routingKey: queue)
        #expect(connection.blockedReason == nil)
        try await TestBrokerNode.runScript("alarm", "on")
        let blocked: Task<Void, any Error>
        do {
            // The alarm is raised at the node's next memory check (about a second).
            try await Task.sleep(for: .seconds(3))
            blocked = Task { try await publisher.publish(Data("blocked".utf8), exchange: "", routingKey: queue) }
            for _ in 0..<200 where connection.blockedReason == nil { try await Task.sleep(for: .milliseconds(50)) }
            #expect(connection.blockedReason?.contains("memory") == true, "blocked: \(connection.blockedReason ?? "never")")
            let abandoned = Task { try await publisher.publish(Data("abandoned".utf8), exchange: "", routingKey: queue) }
            try await Task.sleep(for: .milliseconds(300))
            abandoned.cancel()
            await #expect(throws: CancellationError.self) { try await abandoned.value }
        } catch {
            try? await TestBrokerNode.runScript("alarm", "off")
            throw error
        }
        try await TestBrokerNode.runScript("alarm", "off")
        try await blocked.value
        #expect(connection.blockedReason == nil)
        try await publisher.publish(Data("after".utf8), exchange: "", routingKey: queue)
        var bodies: [String] = []
        while let message = try await channel.get(queue: queue, autoAck: true) { bodies.append(String(decoding: message.body, as: UTF8.self)) }
        #expect(bodies == ["before", "blocked", "after"])  // the abandoned one never went out
        await connection.close()
    }

    @Test func unroutableMandatoryPublishThrowsNoRoute() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let exchange = TestBroker.uniqueName("nowhere")
        try await channel.declare(AMQPExchange(name: exchange, type: .direct, durable: false, autoDelete: true))
        let publisher = try await connection.makePublisher()
        await #expect {
            try await publisher.publish(Data("x".utf8), exchange: exchange, routingKey: "none",
                                        properties: AMQPProperties(messageId: "lost"), mandatory: true)
        } throws: { ($0 as? AMQPError)?.code == .noRoute }
        // Without mandatory the broker confirms and drops it.
        try await publisher.publish(Data("x".utf8), exchange: exchange, routingKey: "none")
        await #expect {
            try await publisher.publish(Data("x".utf8), exchange: "fedq.no-such-exchange", routingKey: "k")
        } throws: { ($0 as? AMQPError)?.code == .notFound }
        await connection.close()
    }

    @Test func nackWithoutRequeueLandsInDeadLetters() async throws {
        let connection = try await TestBroker.connect()
        let topology = try AMQPTopology(definitionsAt: definitionsPath)
        try await connection.declare(topology)
        let channel = try await connection.openChannel()
        try await channel.purgeQueue("fedq.q.updates")
        try await channel.purgeQueue("fedq.q.dead")
        let publisher = try await connection.makePublisher()
        let id = UUID().uuidString
        try await publisher.publish(Data("poison".utf8), exchange: "fedq.updates", routingKey: "fedq.updates",
                                    properties: AMQPProperties(messageId: id, deliveryMode: .persistent), mandatory: true)
        var iterator = try await channel.consume(queue: "fedq.q.updates", prefetch: 1).makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        #expect(delivery.properties.messageId == id)
        try await delivery.nack(requeue: false)

        let reader = try await connection.openChannel()
        var dead: AMQPDelivery?
        for _ in 0..<100 where dead == nil {
            dead = try await reader.get(queue: "fedq.q.dead", autoAck: true)
            if dead == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let deadLetter = try #require(dead)
        #expect(deadLetter.properties.messageId == id)
        #expect(deadLetter.body == Array("poison".utf8))
        #expect(deadLetter.properties.headers?["x-death"] != nil || deadLetter.properties.headers?["x-first-death-reason"] != nil)
        await connection.close()
    }

    @Test func redeclaringWithOtherArgumentsIsPreconditionFailed() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let name = TestBroker.uniqueName("args")
        try await channel.declare(AMQPQueue(name: name, durable: false, autoDelete: true, arguments: ["x-max-length": 10]))
        try await channel.declare(AMQPQueue(name: name, durable: false, autoDelete: true, arguments: ["x-max-length": 10]))
        await #expect {
            try await channel.declare(AMQPQueue(name: name, durable: false, autoDelete: true, arguments: ["x-max-length": 20]))
        } throws: { error in
            guard let error = error as? AMQPError else { return false }
            return error.code == .preconditionFailed && error.text.contains("x-max-length")
        }
        // The broker closed the channel: it stays closed, the connection does not.
        await #expect { try await channel.purgeQueue(name) } throws: { ($0 as? AMQPError)?.code == .channelClosed }
        let fresh = try await connection.openChannel()
        try await fresh.deleteQueue(name)
        await connection.close()
    }

    @Test func consumingAMissingQueueIsNotFound() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        await #expect {
            _ = try await channel.consume(queue: "fedq.test.missing.\(UUID().uuidString)")
        } throws: { ($0 as? AMQPError)?.code == .notFound }
        #expect(connection.isOpen)
        await connection.close()
    }

    @Test func wrongPasswordIsAClearAuthenticationError() async throws {
        var configuration = try TestBroker.configuration()
        configuration.password = "definitely-wrong"
        let started = ContinuousClock.now
        await #expect {
            _ = try await AMQPConnection(configuration: configuration)
        } throws: { error in
            guard let error = error as? AMQPError else { return false }
            return error.code == .accessRefused && error.description.contains("login")
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func unreachableBrokerFailsFast() async throws {
        var configuration = try TestBroker.configuration()
        configuration.port = 1 // nothing listens there
        await #expect {
            _ = try await AMQPConnection(configuration: configuration)
        } throws: { ($0 as? AMQPError)?.isConnectionLoss == true }
    }

    @Test func topologyDeclaredTwiceIsANoOp() async throws {
        let topology = try AMQPTopology(definitionsAt: definitionsPath)
        let connection = try await TestBroker.connect()
        try await connection.declare(topology)
        let before = try await connection.openChannel().declare(AMQPQueue(name: "fedq.q.dead"), passive: true)
        try await connection.declare(topology)
        #expect(try await connection.check(topology) == [])
        let after = try await connection.openChannel().declare(AMQPQueue(name: "fedq.q.dead"), passive: true)
        #expect(before.messageCount == after.messageCount)

        var altered = topology
        altered.queues[0].arguments["x-max-length"] = 5
        let problems = try await connection.check(altered)
        #expect(problems.count == 1)
        #expect(problems.first?.contains("406") == true)
        await connection.close()
    }

    /// `scripts/broker.sh walstate`, which the pipeline-against-C-loop benchmark samples the
    /// node's quorum write-ahead log with: idle while nothing is written, busy while 200 KB
    /// messages stream into a quorum queue. The queue is purged, not deleted: deleting a
    /// quorum queue can crash RabbitMQ 3.10's segment writer under whatever runs next.
    @Test func walStateSeesTheWriteAheadLogIdleThenBusy() async throws {
        let quiet = try WALState(try await TestBrokerNode.runScript("walstate", "1"))
        #expect(quiet.samples > 100)
        #expect(quiet.idle >= 80)

        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = "fedq.test.walstate"
        try await channel.declare(AMQPQueue(name: queue, durable: true, autoDelete: false, arguments: ["x-queue-type": .string("quorum")]))
        let publisher = try await connection.makePublisher(window: 32)
        let body = Data(repeating: 7, count: 200_000)
        let confirmed = ConfirmCount()
        let publishing = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        while !Task.isCancelled {
                            try await publisher.publish(body, exchange: "", routingKey: queue)
                            confirmed.increment()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        while confirmed.value < 64 { try await Task.sleep(for: .milliseconds(10)) }
        let busy = try WALState(try await TestBrokerNode.runScript("walstate", "2"))
        publishing.cancel()
        _ = try? await publishing.value
        #expect(busy.samples > 100)
        #expect(busy.idle <= 50, "the log should be busy while 200 KB messages stream in: \(busy)")
        #expect(busy.running + busy.runnable + busy.idle >= 97)
        _ = try await channel.purgeQueue(queue)
        await connection.close()
    }
}

/// One line of `scripts/broker.sh walstate`: "running R% runnable Q% idle I% (N samples);
/// busy time waiting for a scheduler W%". W follows from R and Q, so it is not kept.
struct WALState: CustomStringConvertible {
    var running: Int
    var runnable: Int
    var idle: Int
    var samples: Int

    init(_ line: String) throws {
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        try #require(numbers.count == 5 && line.hasPrefix("running "), "not a walstate line: \(line)")
        (running, runnable, idle, samples) = (numbers[0], numbers[1], numbers[2], numbers[3])
    }

    var description: String { "running \(running)% runnable \(runnable)% idle \(idle)% (\(samples) samples)" }
}

/// A count the publishing tasks share.
final class ConfirmCount: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
