import FedCore

/// What the pipeline's roles need from a message broker, named as in AMQP 0-9-1 so the
/// same role code runs on the in-process `EmbeddedBroker` and on RabbitMQ.
///
/// Implementations must be safe to share between tasks. Every call is `async` because a
/// RabbitMQ implementation confines each librabbitmq connection to a thread of its own
/// and must never block the cooperative pool while it waits for that thread.
public protocol Transport: Sendable {
    /// Declares an exchange, or checks that an existing one has the same kind and flags.
    /// - Throws: `.preconditionFailed` for an inequivalent redeclaration (AMQP 406).
    func declareExchange(_ exchange: ExchangeDeclaration) async throws(TransportError)

    /// Declares a queue, or checks that an existing one has the same flags and arguments.
    /// An empty name asks the broker to generate one (read it from the returned status).
    /// - Throws: `.preconditionFailed` for an inequivalent redeclaration (AMQP 406).
    @discardableResult
    func declareQueue(_ queue: QueueDeclaration) async throws(TransportError) -> QueueStatus

    /// Checks that an exchange exists (AMQP passive declare), which needs no permission:
    /// a least-privilege role checks the topology an administrator declared this way.
    /// - Throws: `.notFound` if there is no such exchange.
    func checkExchange(_ name: String) async throws(TransportError)

    /// The queue's ready-message and consumer counts (AMQP passive declare).
    /// - Throws: `.notFound` if there is no such queue.
    func queueStatus(_ name: String) async throws(TransportError) -> QueueStatus

    /// Routes messages published to `exchange` with `routingKey` into `queue`
    /// (fanout exchanges ignore the key).
    /// - Throws: `.notFound` if the exchange or the queue does not exist.
    func bindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError)

    /// Removes that binding; one that does not exist is no error (RabbitMQ's `queue.unbind`).
    /// - Throws: `.notFound` if the exchange or the queue does not exist.
    func unbindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError)

    /// Deletes a queue with its messages; its consumers are cancelled.
    /// - Throws: `.notFound` if there is no such queue.
    func deleteQueue(_ name: String) async throws(TransportError)

    /// Deletes the queue's ready messages; unacknowledged ones stay with their consumers.
    /// - Returns: how many messages were deleted.
    /// - Throws: `.notFound` if there is no such queue.
    @discardableResult
    func purgeQueue(_ name: String) async throws(TransportError) -> Int

    /// Publishes one message and returns once the broker has taken responsibility for it
    /// (a publisher confirm): after this returns, a crash of the publisher cannot lose it.
    /// The empty exchange name is AMQP's default exchange, routing to the queue named by
    /// the routing key.
    /// - Throws: `.notFound` for a missing exchange, `.unroutable` when `mandatory` and no
    ///   queue took it, `.publishRejected` when a queue refused it (`x-overflow:
    ///   reject-publish`).
    func publish(
        _ body: [UInt8], exchange: String, routingKey: String, properties: MessageProperties,
        mandatory: Bool
    ) async throws(TransportError)

    /// Starts a consumer on `queue` with manual acknowledgement. At most `prefetch`
    /// deliveries are unacknowledged at once (0 means unlimited); consumers of one queue
    /// compete, each message going to one of them. Cancelling the consumer (or ending its
    /// iteration) returns its unacknowledged messages to the queue, marked redelivered.
    /// - Throws: `.notFound` for a missing queue, `.accessRefused` when `exclusive` and
    ///   the queue has consumers (or has an exclusive one).
    func consume(queue: String, prefetch: Int, exclusive: Bool) async throws(TransportError) -> Consumer

    /// Starts reading a stream queue at `offset`. Unlike a queue's consumers, every reader
    /// of a stream gets every message from where it started; acknowledging a delivery
    /// returns its prefetch credit and removes nothing, and a nack does not requeue (the
    /// message stays in the log). Each delivery carries its ``Delivery/streamOffset``.
    /// - Throws: `.notFound` for a missing queue, `.preconditionFailed` for a queue that is
    ///   not a stream or a `prefetch` of 0 (a stream reader needs credit).
    func consume(stream: String, prefetch: Int, from offset: StreamOffset) async throws(TransportError) -> Consumer

    /// Closes the transport: consumers end and unacknowledged messages are requeued.
    func close() async
}

extension Transport {
    /// Publishes with default properties to a direct exchange (or the default one).
    public func publish(
        _ body: [UInt8], exchange: String, routingKey: String = "",
        properties: MessageProperties = MessageProperties()
    ) async throws(TransportError) {
        try await publish(body, exchange: exchange, routingKey: routingKey, properties: properties, mandatory: false)
    }

    /// A non-exclusive consumer.
    public func consume(queue: String, prefetch: Int) async throws(TransportError) -> Consumer {
        try await consume(queue: queue, prefetch: prefetch, exclusive: false)
    }
}

/// What a passive declare reports about a queue.
public struct QueueStatus: Sendable, Equatable {
    public let name: String
    /// Messages ready for delivery (not counting unacknowledged ones).
    public let messageCount: Int
    public let consumerCount: Int

    public init(name: String, messageCount: Int, consumerCount: Int) {
        self.name = name
        self.messageCount = messageCount
        self.consumerCount = consumerCount
    }
}
