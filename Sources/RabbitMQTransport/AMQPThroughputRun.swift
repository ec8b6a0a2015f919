import AMQP
import FedCore
import Foundation

/// One size of `fedq bench amqp`: runs the AMQP wrapper or librabbitmq's plain C loop
/// through the same durable queue and returns messages per second. It lives beside the
/// adapter because it measures the adapter's own overhead over the C library.
public struct AMQPThroughputRun: Sendable {
    /// RabbitMQ's three kinds of queue (`x-queue-type`), compared for issue 21: a classic
    /// queue (one node, no replication), a quorum queue (Raft-replicated; every shared
    /// queue of the pipeline today) and a stream (a replicated append-only log that
    /// consumers read from an offset and that acks do not shrink).
    public enum QueueType: String, Sendable, CaseIterable, Codable {
        case classic, quorum, stream

        var declarationArguments: AMQPTable { ["x-queue-type": .string(rawValue)] }
        /// A stream is read from an offset; a fresh one from its first, so that a consumer
        /// attached after the first publishes still sees every message.
        var consumeArguments: AMQPTable { self == .stream ? ["x-stream-offset": .string("first")] : [:] }
    }

    let configuration: AMQPConfiguration
    let queue: String
    let queueType: QueueType
    let size: Int
    let messages: Int
    let window: Int
    let prefetch: UInt16
    let acks: AckBatching

    /// - Throws: `TransportFactory.AddressError` for an unusable URL.
    public init(
        brokerURL: String, queue: String, queueType: QueueType = .classic, size: Int, messages: Int, window: Int,
        prefetch: UInt16, acks: AckBatching = .eachAtOnce
    ) throws {
        configuration = try TransportFactory.configuration(for: brokerURL, connectionName: "fedq bench amqp")
        self.queue = queue
        self.queueType = queueType
        self.size = size
        self.messages = messages
        self.window = window
        self.prefetch = prefetch
        self.acks = acks
    }

    /// Starts every run on an empty queue. A stream cannot be purged (its earlier messages
    /// would be read again from offset `first`), so it is deleted and declared again; a quorum
    /// or classic queue is declared and purged, not deleted: on RabbitMQ 3.10 (Ra 2.2),
    /// deleting a quorum queue while the node's segment writer still has its entries to
    /// flush crashes that writer when it comes to them (rabbitmq/ra#484, fixed in later Ra),
    /// and the crash restarts the node's write-ahead log with it (rabbitmq-server#4512):
    /// seen twice in one `bench-pipeline-vs-c.sh` run, in the middle of the next measurement.
    ///
    /// RabbitMQ refuses to declare a quorum queue while the Raft members of a namesake
    /// deleted a moment before are still stopping (541 INTERNAL_ERROR `cluster_not_formed`,
    /// which closes the connection: seen between two runs of `bench-pipeline-vs-c.sh`), so
    /// that one refusal is retried on a new connection, every half second for up to 15 s.
    func freshQueue() async throws {
        for attempt in 1... {
            let connection = try await AMQPConnection(configuration: configuration)
            do {
                let setup = try await connection.openChannel()
                let declaration = AMQPQueue(name: queue, durable: true, arguments: queueType.declarationArguments)
                if queueType == .stream {
                    _ = try await setup.deleteQueue(queue)
                    _ = try await setup.declare(declaration)
                } else {
                    _ = try await setup.declare(declaration)
                    _ = try await setup.purgeQueue(queue)
                }
                await setup.close()
                await connection.close()
                return
            } catch let error as AMQPError where error.code == .internalError && error.text.contains("cluster_not_formed") && attempt < 30 {
                await connection.close()
                try await Task.sleep(for: .milliseconds(500))
            } catch {
                await connection.close()
                throw error
            }
        }
    }

    /// Deletes the run's queue.
    public func deleteQueue() async throws {
        let connection = try await AMQPConnection(configuration: configuration)
        _ = try await connection.openChannel().deleteQueue(queue)
        await connection.close()
    }

    /// Figures for one size, as printed and written to JSON.
    public struct Comparison: Codable, Sendable {
        let queueType: QueueType
        let messageBytes: Int
        let messages: Int
        let wrapperMessagesPerSecond: Double
        let wrapperMBPerSecond: Double
        let cMessagesPerSecond: Double
        let cMBPerSecond: Double
        let ratio: Double
        /// How both consumers acked.
        let acks: AckBatching

        public init(
            queueType: QueueType = .classic, size: Int, wrapperSeconds: Double, cSeconds: Double, messages: Int,
            acks: AckBatching = .eachAtOnce
        ) {
            self.queueType = queueType
            self.acks = acks
            messageBytes = size
            self.messages = messages
            wrapperMessagesPerSecond = Double(messages) / wrapperSeconds
            cMessagesPerSecond = Double(messages) / cSeconds
            wrapperMBPerSecond = wrapperMessagesPerSecond * Double(size) / 1e6
            cMBPerSecond = cMessagesPerSecond * Double(size) / 1e6
            ratio = wrapperMessagesPerSecond / cMessagesPerSecond
        }

        public var line: String {
            queueType.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                + String(format: "  %10d  %14.0f  %12.1f  %8.0f  %6.1f  %5.1f%%", messageBytes, wrapperMessagesPerSecond,
                   wrapperMBPerSecond, cMessagesPerSecond, cMBPerSecond, ratio * 100)
        }
    }

    /// Publishes with a confirm window on one connection while consuming and
    /// acking on another, like the C loop (which forks for its consumer).
    public func measureWrapper() async throws -> Double {
        try await freshQueue()
        let connection = try await AMQPConnection(configuration: configuration)
        let consumerConnection = try await AMQPConnection(configuration: configuration)
        let publisher = try await connection.makePublisher(window: window)
        let consumer = try await consumerConnection.openChannel().consume(
            queue: queue, prefetch: prefetch, arguments: queueType.consumeArguments)
        let body = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let properties = AMQPProperties(contentType: "application/octet-stream", deliveryMode: .persistent)
        let (queue, messages, window, size) = (queue, messages, window, size)

        let start = ContinuousClock.now
        let acks = acks
        async let consumed: Int = {
            // Batched acks go out in order, each when due, from a task of their own: a later
            // `multiple` ack sent before an earlier one would ack that one's tags twice.
            let (batches, closed) = AsyncStream.makeStream(of: (AMQPDelivery, ContinuousClock.Instant).self)
            async let acked: Void = {
                for await (last, due) in batches {
                    try await Task.sleep(until: due, clock: .continuous)
                    try await last.ack(multiple: true)
                }
            }()
            var count = 0
            for try await delivery in consumer {
                guard delivery.body.count == size else { throw BenchError.shortBody(delivery.body.count) }
                count += 1
                if acks.acksEachAtOnce {
                    try await delivery.ack()
                } else if acks.closesBatch(count, of: messages) {
                    closed.yield((delivery, .now + .milliseconds(acks.delayMs)))
                }
                if count == messages { break }
            }
            closed.finish()
            try await acked
            return count
        }()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<messages {
                if index >= window { try await group.next() }
                group.addTask { try await publisher.publish(body, exchange: "", routingKey: queue, properties: properties) }
            }
            try await group.waitForAll()
        }
        let count = try await consumed
        let elapsed = ContinuousClock.now - start
        guard count == messages else { throw BenchError.incomplete(count) }
        await connection.close()
        await consumerConnection.close()
        return Double(messages) / elapsed.seconds
    }

    public func measureCLoop(executable: String) async throws -> Double {
        try await freshQueue()
        // The password goes in the environment: a command line is visible to every user's `ps`.
        let output = try await Self.runProcess(executable, [
            configuration.host, String(configuration.port), configuration.user,
            configuration.virtualHost, queue, queueType.rawValue, String(size), String(messages), String(window), String(prefetch),
            String(acks.every), String(acks.delayMs),
        ], environment: ["FEDQ_C_LOOP_PASSWORD": configuration.password])
        guard let field = output.split(separator: " ").first(where: { $0.hasPrefix("seconds=") }),
              let seconds = Double(field.dropFirst("seconds=".count).trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw BenchError.cLoopOutput(output) }
        return Double(messages) / seconds
    }

    /// Compiles the C baseline into a temporary directory, under a name of its own: two
    /// benchmarks of one process compiling at once must not write the same file.
    public static func compileCLoop(source: String) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-amqp-c-loop-\(getpid())-\(UUID().uuidString.prefix(8))").path
        _ = try await runProcess("/usr/bin/env", ["cc", "-O2", "-o", output, source, "-lrabbitmq"])
        return output
    }

    /// Runs a process without blocking the cooperative pool; returns stdout.
    static func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let stdout = Pipe()
        process.standardOutput = stdout
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard status == 0 else { throw BenchError.processFailed("\(executable) \(arguments.joined(separator: " "))", status) }
        return output
    }

    enum BenchError: Error, CustomStringConvertible {
        case shortBody(Int)
        case incomplete(Int)
        case cLoopOutput(String)
        case processFailed(String, Int32)

        var description: String {
            switch self {
            case .shortBody(let count): "a delivery had \(count) bytes, not the size published"
            case .incomplete(let count): "only \(count) messages came back"
            case .cLoopOutput(let output): "the C loop printed no seconds= figure: \(output)"
            case .processFailed(let command, let status): "\(command) exited with status \(status)"
            }
        }
    }
}
