import AMQP
import FedCore
import Foundation
import Messaging
import Synchronization

/// A `Transport` over one RabbitMQ connection, so the roles that run on the embedded
/// broker run unchanged on a real one. The AMQP module confines the connection to a
/// thread of its own; every call here only queues work for that thread and awaits it,
/// so nothing blocks the cooperative pool.
///
/// RabbitMQ closes a channel on any failed operation (404, 406, …), so channels follow
/// what can fail together: each declaration, binding, purge or deletion gets a
/// short-lived channel, so one failure cannot break a concurrent call; publishes share one
/// confirm-mode channel, replaced once a failure closed it; each consumer has a channel
/// of its own, whose closing is what hands its unsettled deliveries back to the queue.
/// (Iteration that just stops, e.g. its task cancelled, stops the deliveries at once; the
/// unsettled ones go back when the `Consumer` value is released and its channel closes.)
public final class AMQPTransport: Transport {
    private let connection: AMQPConnection
    private let publisher = Mutex<AMQPPublisher?>(nil)
    private let closed = Atomic(false)

    /// Connects and logs in.
    /// - Throws: `.accessRefused` when the broker refused the login (user, password, a
    ///   missing vhost or no permission on it), `.connectionFailed` when it could not be reached or
    ///   the handshake failed (within the configuration's connect timeout).
    public init(configuration: AMQPConfiguration) async throws(TransportError) {
        do {
            connection = try await AMQPConnection(configuration: configuration)
        } catch let error as AMQPError where error.code == .accessRefused || error.code == .notAllowed {
            // 403 (user or password) and 530 (a missing vhost, or no permission on it):
            // waiting will not fix either, so they are refusals, not connection failures.
            throw .accessRefused("\(error.operation): \(error.text)")
        } catch {
            throw .connectionFailed("\(error)")
        }
    }

    public func declareExchange(_ exchange: ExchangeDeclaration) async throws(TransportError) {
        try await onOwnChannel { try await $0.declare(AMQPExchange(exchange)) }
    }

    @discardableResult
    public func declareQueue(_ queue: QueueDeclaration) async throws(TransportError) -> QueueStatus {
        QueueStatus(try await onOwnChannel { try await $0.declare(AMQPQueue(queue)) })
    }

    public func checkExchange(_ name: String) async throws(TransportError) {
        try await onOwnChannel { try await $0.declare(AMQPExchange(name: name, type: .direct), passive: true) }
    }

    public func queueStatus(_ name: String) async throws(TransportError) -> QueueStatus {
        QueueStatus(try await onOwnChannel { try await $0.declare(AMQPQueue(name: name), passive: true) })
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError) {
        try await onOwnChannel { try await $0.bind(AMQPBinding(exchange: exchange, queue: queue, routingKey: routingKey)) }
    }

    public func unbindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError) {
        try await onOwnChannel { try await $0.unbind(AMQPBinding(exchange: exchange, queue: queue, routingKey: routingKey)) }
    }

    public func deleteQueue(_ name: String) async throws(TransportError) {
        // RabbitMQ deletes a missing queue without complaint; the passive declare gives the 404 callers rely on.
        try await onOwnChannel { channel in
            try await channel.declare(AMQPQueue(name: name), passive: true)
            try await channel.deleteQueue(name)
        }
    }

    @discardableResult
    public func purgeQueue(_ name: String) async throws(TransportError) -> Int {
        try await onOwnChannel { try await $0.purgeQueue(name) }
    }

    public func publish(
        _ body: [UInt8], exchange: String, routingKey: String, properties: MessageProperties, mandatory: Bool
    ) async throws(TransportError) {
        let amqpProperties = AMQPProperties(properties)
        var retried = false
        while true {
            let publisher = try await currentPublisher()
            do {
                try await publisher.publish(
                    body, exchange: exchange, routingKey: routingKey, properties: amqpProperties, mandatory: mandatory)
                return
            } catch let error as AMQPError where error.code == .noRoute {
                throw .unroutable(exchange: exchange, routingKey: routingKey)
            } catch let error as AMQPError where error.code == .nacked {
                // A nack names no queue; through the default exchange the routing key is one.
                throw .publishRejected(queue: exchange.isEmpty ? routingKey : "bound to exchange '\(exchange)'")
            } catch {
                discard(publisher)
                // A publish that found its channel already closed (a concurrent publish's
                // failure closed it) never reached the broker: sending it again is safe.
                if let error = error as? AMQPError, error.code == .channelClosed, !retried, !isClosed {
                    retried = true
                    continue
                }
                throw transportError(error)
            }
        }
    }

    public func consume(queue: String, prefetch: Int, exclusive: Bool) async throws(TransportError) -> Consumer {
        try await startConsumer(queue: queue, prefetch: prefetch, exclusive: exclusive, arguments: [:])
    }

    /// RabbitMQ's AMQP 0-9-1 stream reader: `x-stream-offset` in `basic.consume`, and each
    /// delivery's offset in its `x-stream-offset` header.
    public func consume(stream: String, prefetch: Int, from offset: StreamOffset) async throws(TransportError) -> Consumer {
        // RabbitMQ accepts a stream reader without credit and then never delivers.
        guard prefetch > 0 else { throw .preconditionFailed("a stream reader needs a prefetch above 0") }
        let start: AMQPFieldValue
        switch offset {
        case .first: start = .string("first")
        case .next: start = .string("next")
        case .offset(let value):
            guard let signed = Int64(exactly: value) else { throw .preconditionFailed("stream offset \(value) is beyond 2^63") }
            start = .int(signed)
        }
        return try await startConsumer(queue: stream, prefetch: prefetch, exclusive: false, arguments: ["x-stream-offset": start])
    }

    private func startConsumer(
        queue: String, prefetch: Int, exclusive: Bool, arguments: AMQPTable
    ) async throws(TransportError) -> Consumer {
        guard let prefetch = UInt16(exactly: prefetch) else {
            throw .preconditionFailed("prefetch must be in 0...\(UInt16.max), got \(prefetch)")
        }
        let consumer: AMQPConsumer
        do {
            consumer = try await connection.openChannel().consume(
                queue: queue, prefetch: prefetch, exclusive: exclusive, arguments: arguments)
        } catch {
            throw transportError(error)
        }
        let termination = Consumer.Termination()
        let channel = consumer.channel
        return Consumer(
            tag: consumer.consumerTag, queue: queue,
            deliveries: AMQPDeliveries(consumer: consumer, transport: self, termination: termination, queue: queue),
            termination: termination
        ) {
            await channel.close()
        }
    }

    /// Closes the connection: the broker requeues every unsettled delivery and deletes
    /// the exclusive queues; consumers end.
    public func close() async {
        closed.store(true, ordering: .releasing)
        publisher.withLock { $0 = nil }
        await connection.close()
    }

    /// Whether `close()` was called: failures after it are the close, not a lost connection.
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Maps a failure of the AMQP layer; once closed, a dead connection is just `.closed`.
    func transportError(_ error: any Error) -> TransportError {
        guard let error = error as? AMQPError else { return isClosed ? .closed : .connectionLost("\(error)") }
        return TransportError(error, closedLocally: isClosed)
    }

    /// Runs `body` on a channel of its own, closed afterwards (the broker closed it
    /// already if `body` failed).
    private func onOwnChannel<T: Sendable>(_ body: (AMQPChannel) async throws -> T) async throws(TransportError) -> T {
        do {
            let channel = try await connection.openChannel()
            let result = try await body(channel)
            await channel.close()
            return result
        } catch {
            throw transportError(error)
        }
    }

    private func currentPublisher() async throws(TransportError) -> AMQPPublisher {
        if let current = publisher.withLock({ $0 }) { return current }
        let fresh: AMQPPublisher
        do { fresh = try await connection.makePublisher() } catch { throw transportError(error) }
        return publisher.withLock { slot in
            // A concurrent publish may have made one meanwhile; `fresh` then closes as it goes.
            if let current = slot { return current }
            slot = fresh
            return fresh
        }
    }

    private func discard(_ failed: AMQPPublisher) {
        publisher.withLock { slot in
            if slot === failed { slot = nil }
        }
    }
}
