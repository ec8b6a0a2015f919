import Foundation
import Synchronization

/// An AMQP channel. After the broker closes it (e.g. 404 or 406) every call
/// throws; open a new one. Closed when the last reference goes away.
public final class AMQPChannel: Sendable {
    public let connection: AMQPConnection
    let handle: ChannelHandle
    private let consumerSerial = Atomic<Int>(0)

    init(connection: AMQPConnection, handle: ChannelHandle) {
        self.connection = connection
        self.handle = handle
    }

    deinit {
        let handle = handle
        connection.thread.post { $0.closeChannel(handle) }
    }

    public var number: UInt16 { handle.number }

    private func perform<T: Sendable>(_ body: @escaping @Sendable (ConnectionSession, ChannelHandle) throws(AMQPError) -> T)
        async throws -> T
    {
        let handle = handle
        return try await connection.thread.perform { session throws(AMQPError) in try body(session, handle) }
    }

    /// - Parameter passive: only check that it exists (404 otherwise).
    public func declare(_ exchange: AMQPExchange, passive: Bool = false) async throws {
        try await perform { session, handle throws(AMQPError) in try session.declareExchange(handle, exchange, passive: passive) }
    }

    /// - Parameter passive: only check that it exists (404 otherwise).
    /// - Throws: `AMQPError` `.preconditionFailed` (406) when it exists with other arguments.
    @discardableResult
    public func declare(_ queue: AMQPQueue, passive: Bool = false) async throws -> AMQPQueueStatus {
        try await perform { session, handle throws(AMQPError) in try session.declareQueue(handle, queue, passive: passive) }
    }

    public func bind(_ binding: AMQPBinding) async throws {
        try await perform { session, handle throws(AMQPError) in try session.bind(handle, binding, unbind: false) }
    }

    public func unbind(_ binding: AMQPBinding) async throws {
        try await perform { session, handle throws(AMQPError) in try session.bind(handle, binding, unbind: true) }
    }

    /// - Returns: the number of messages deleted with the queue.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> Int {
        try await perform { session, handle throws(AMQPError) in
            try session.deleteQueue(handle, name: name, ifUnused: ifUnused, ifEmpty: ifEmpty)
        }
    }

    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws {
        try await perform { session, handle throws(AMQPError) in try session.deleteExchange(handle, name: name, ifUnused: ifUnused) }
    }

    /// - Returns: the number of messages purged.
    @discardableResult
    public func purgeQueue(_ name: String) async throws -> Int {
        try await perform { session, handle throws(AMQPError) in try session.purgeQueue(handle, name: name) }
    }

    /// `basic.qos`: at most `count` unacked deliveries on this channel.
    public func setPrefetch(_ count: UInt16) async throws {
        try await perform { session, handle throws(AMQPError) in try session.setPrefetch(handle, count: count) }
    }

    /// Starts consuming with manual acknowledgement.
    /// - Parameter prefetch: sets `basic.qos` first when given.
    /// - Throws: `AMQPError` `.notFound` (404) for a missing queue.
    public func consume(queue: String, prefetch: UInt16? = nil, exclusive: Bool = false,
                        arguments: AMQPTable = [:]) async throws -> AMQPConsumer {
        if let prefetch { try await setPrefetch(prefetch) }
        let tag = "fedq.\(connection.configuration.connectionName).\(handle.number).\(consumerSerial.add(1, ordering: .relaxed).newValue)"
        let (stream, sink) = AsyncThrowingStream<AMQPDelivery, Error>.makeStream()
        let thread = connection.thread
        let handle = handle
        sink.onTermination = { _ in thread.post { $0.cancelConsumer(handle, consumerTag: tag) } }
        try await perform { session, handle throws(AMQPError) in
            try session.consume(handle, queue: queue, consumerTag: tag, exclusive: exclusive, arguments: arguments, sink: sink)
        }
        return AMQPConsumer(channel: self, consumerTag: tag, stream: stream)
    }

    /// `basic.get`: one message or nil when the queue is empty.
    public func get(queue: String, autoAck: Bool = false) async throws -> AMQPDelivery? {
        try await perform { session, handle throws(AMQPError) in try session.get(handle, queue: queue, autoAck: autoAck) }
    }

    /// Closes the channel now (unacked deliveries return to their queues).
    public func close() async {
        _ = try? await perform { session, handle throws(AMQPError) in session.closeChannel(handle) }
    }
}
