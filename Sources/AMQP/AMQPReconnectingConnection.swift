import Foundation

/// A connection that comes back: when the broker goes away it reconnects
/// with bounded exponential backoff, re-declares the topology, and lets
/// publishers and consumers carry on (see ``consume(queue:prefetch:)`` and
/// ``publish(_:exchange:routingKey:properties:mandatory:)``).
/// The decisions come from ``ReconnectStateMachine``; this actor only performs them.
public actor AMQPReconnectingConnection {
    public nonisolated let configuration: AMQPConfiguration
    public nonisolated let topology: AMQPTopology?
    private let publisherWindow: Int
    private var machine: ReconnectStateMachine
    private var current: AMQPConnection?
    private var publisher: AMQPPublisher?
    private var establishing: Task<AMQPConnection, Error>?

    /// - Parameter topology: declared on every (re)connect, so queues exist before consuming resumes.
    public init(configuration: AMQPConfiguration, topology: AMQPTopology? = nil, backoff: ReconnectBackoff = ReconnectBackoff(),
                publisherWindow: Int = 256) {
        self.configuration = configuration
        self.topology = topology
        self.publisherWindow = publisherWindow
        machine = ReconnectStateMachine(backoff: backoff)
    }

    /// How many times a lost connection was re-established.
    public var reconnects: Int { machine.reconnects }

    /// The live connection, reconnecting first if it was lost.
    /// - Throws: the permanent error (e.g. `.accessRefused`) or `.reconnectExhausted`.
    public func connection() async throws -> AMQPConnection {
        if let current, current.isOpen { return current }
        if let establishing { return try await establishing.value }
        let task = Task { try await self.establish() }
        establishing = task
        defer { establishing = nil }
        return try await task.value
    }

    /// Publishes with confirms, publishing again on a new connection when the
    /// connection is lost before the confirm: at-least-once, so a confirmed
    /// message is never lost (a redelivered duplicate is possible).
    public func publish(_ body: some ContiguousBytes & Sendable, exchange: String, routingKey: String, properties: AMQPProperties = AMQPProperties(),
                        mandatory: Bool = false) async throws {
        while true {
            let publisher = try await currentPublisher()
            do {
                try await publisher.publish(body, exchange: exchange, routingKey: routingKey, properties: properties,
                                            mandatory: mandatory)
                return
            } catch let error as AMQPError where error.isConnectionLoss {
                continue
            }
        }
    }

    /// Deliveries from `queue` across reconnects. Unacked deliveries of a
    /// lost connection come again (with `redelivered` set).
    public nonisolated func consume(queue: String, prefetch: UInt16 = 64) -> AMQPResumingConsumer {
        AMQPResumingConsumer(source: self, queue: queue, prefetch: prefetch)
    }

    /// Stops reconnecting and closes the current connection.
    public func close() async {
        _ = machine.stop()
        publisher = nil
        await current?.close()
        current = nil
    }

    private func currentPublisher() async throws -> AMQPPublisher {
        let connection = try await connection()
        if let publisher, publisher.channel.connection === connection { return publisher }
        let fresh = try await connection.makePublisher(window: publisherWindow)
        if let publisher, publisher.channel.connection === connection { return publisher }
        publisher = fresh
        return fresh
    }

    private func establish() async throws -> AMQPConnection {
        var action: ReconnectStateMachine.Action
        switch machine.state {
        case .idle: action = machine.start()
        case .connected: action = machine.connectionLost(current?.closeReason ?? AMQPError(.connectionClosed, "connection lost", operation: "reconnect"))
        case .failed(let error): throw error
        case .stopped: throw AMQPError(.connectionClosed, "the reconnecting connection was closed", operation: "reconnect")
        case .connecting, .restoring, .backingOff: action = .connect
        }
        var candidate: AMQPConnection?
        while true {
            switch action {
            case .connect:
                do {
                    candidate = try await AMQPConnection(configuration: configuration)
                    action = machine.connectSucceeded()
                } catch {
                    action = machine.attemptFailed(Self.amqpError(error, "connect"))
                }
            case .restore:
                guard let connection = candidate else { action = machine.attemptFailed(AMQPError(.connectionClosed, "no connection", operation: "restore")); continue }
                do {
                    if let topology { try await connection.declare(topology) }
                    _ = machine.restoreSucceeded()
                    current = connection
                    publisher = nil
                    return connection
                } catch {
                    action = machine.attemptFailed(Self.amqpError(error, "declare topology"))
                }
            case .wait(let delay):
                try await Task.sleep(for: delay)
                action = machine.backoffElapsed()
            case .giveUp(let error):
                throw error
            case .none:
                throw AMQPError(.connectionClosed, "reconnecting stopped", operation: "reconnect")
            }
        }
    }

    private static func amqpError(_ error: any Error, _ operation: String) -> AMQPError {
        error as? AMQPError ?? AMQPError(.connectionClosed, "\(error)", operation: operation)
    }
}

/// Deliveries of one queue that survive connection loss: on a lost
/// connection the iterator reconnects (through its ``AMQPReconnectingConnection``)
/// and consumes again. Channel-level errors (e.g. 404) still end the sequence.
public struct AMQPResumingConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    let source: AMQPReconnectingConnection
    public let queue: String
    public let prefetch: UInt16

    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: AMQPReconnectingConnection
        let queue: String
        let prefetch: UInt16
        var current: AMQPConsumer.AsyncIterator?

        public mutating func next() async throws -> AMQPDelivery? {
            while true {
                try Task.checkCancellation()
                do {
                    if current == nil {
                        let channel = try await source.connection().openChannel()
                        current = try await channel.consume(queue: queue, prefetch: prefetch).makeAsyncIterator()
                    }
                    return try await current?.next()
                } catch let error as AMQPError where error.isConnectionLoss {
                    current = nil
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(source: source, queue: queue, prefetch: prefetch)
    }
}
