import FedCore
import Synchronization

/// An in-process broker with the AMQP semantics the pipeline's roles rely on: direct and
/// fanout exchanges, the default exchange, queues with competing consumers served
/// round-robin under each consumer's prefetch, ack / nack / reject with requeue
/// (redelivered flag) or dead-lettering (`x-death`), `x-max-length` with drop-head or
/// reject-publish, single active consumer, auto-delete queues removed when their last
/// consumer goes, and connections whose close cancels their consumers and deletes their
/// exclusive queues. It makes `fedq simulate` need no set-up.
///
/// Give each role its own `connect()`ion, as it would have its own RabbitMQ connection:
/// closing it (a role shutting down or "crashing") then requeues only that role's
/// unsettled messages. The broker itself is also a `Transport` (its own connection);
/// its `close()` shuts the whole broker down.
///
/// All state sits behind one mutex; every operation is short and never suspends inside
/// it, so it is safe to call from any task. Bodies are never copied: every queue a
/// message is routed to shares the publisher's array.
///
/// Differences from RabbitMQ, on purpose: nothing is persisted (durable is accepted and
/// ignored), exchanges are never auto-deleted, queue types other than stream all behave
/// as classic queues, and stream queues and message TTLs are not supported.
public final class EmbeddedBroker: Transport, DeliveryAcknowledger {
    private let state = Mutex(BrokerState())
    /// The broker's own connection, used by its `Transport` methods.
    private static let ownConnection: UInt64 = 0

    public init() {}

    /// Opens a new connection to this broker.
    public func connect() -> EmbeddedConnection {
        let id = state.withLock { state in
            let id = state.makeID()
            state.openConnections.insert(id)
            return id
        }
        return EmbeddedConnection(broker: self, id: id)
    }

    public func declareExchange(_ exchange: ExchangeDeclaration) async throws(TransportError) {
        try declareExchange(exchange, by: Self.ownConnection)
    }

    @discardableResult
    public func declareQueue(_ queue: QueueDeclaration) async throws(TransportError) -> QueueStatus {
        try declareQueue(queue, by: Self.ownConnection)
    }

    public func queueStatus(_ name: String) async throws(TransportError) -> QueueStatus {
        try queueStatus(name, by: Self.ownConnection)
    }

    public func checkExchange(_ name: String) async throws(TransportError) {
        try checkExchange(name, by: Self.ownConnection)
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError) {
        try bindQueue(queue, exchange: exchange, routingKey: routingKey, by: Self.ownConnection)
    }

    public func unbindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError) {
        try unbindQueue(queue, exchange: exchange, routingKey: routingKey, by: Self.ownConnection)
    }

    public func deleteQueue(_ name: String) async throws(TransportError) {
        try deleteQueue(name, by: Self.ownConnection)
    }

    @discardableResult
    public func purgeQueue(_ name: String) async throws(TransportError) -> Int {
        try purgeQueue(name, by: Self.ownConnection)
    }

    public func publish(
        _ body: [UInt8], exchange: String, routingKey: String, properties: MessageProperties, mandatory: Bool
    ) async throws(TransportError) {
        try publish(
            body, exchange: exchange, routingKey: routingKey, properties: properties, mandatory: mandatory,
            by: Self.ownConnection)
    }

    public func consume(queue: String, prefetch: Int, exclusive: Bool) async throws(TransportError) -> Consumer {
        try consume(queue: queue, prefetch: prefetch, exclusive: exclusive, by: Self.ownConnection)
    }

    public func consume(stream: String, prefetch: Int, from offset: StreamOffset) async throws(TransportError) -> Consumer {
        try consume(queue: stream, prefetch: prefetch, exclusive: false, from: offset, by: Self.ownConnection)
    }

    public func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome, multiple: Bool) async throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            for tag in try state.tags(settledBy: deliveryTag, multiple: multiple) {
                try state.settle(tag, outcome, acknowledger: self)
            }
        }
    }

    /// Shuts the whole broker down: every consumer ends, all messages are gone.
    public func close() async {
        state.withLock { $0.close() }.forEach { $0.finish() }
    }
}

// The operations, on behalf of one connection.
extension EmbeddedBroker {
    func declareExchange(_ exchange: ExchangeDeclaration, by connection: UInt64) throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            guard !exchange.name.isEmpty, !exchange.name.hasPrefix("amq.") else {
                throw .accessRefused("exchange name '\(exchange.name)' is reserved")
            }
            if let existing = state.exchanges[exchange.name] {
                guard existing.declaration == exchange else {
                    throw .preconditionFailed("inequivalent declaration of exchange '\(exchange.name)'")
                }
                return
            }
            state.exchanges[exchange.name] = ExchangeState(exchange)
        }
    }

    func declareQueue(_ queue: QueueDeclaration, by connection: UInt64) throws(TransportError) -> QueueStatus {
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            // RabbitMQ's rules for a stream: a durable log that outlives its readers.
            if queue.arguments.queueType == .stream, !queue.durable || queue.exclusive || queue.autoDelete {
                throw .preconditionFailed("a stream queue must be durable, not exclusive and not auto-delete")
            }
            if queue.arguments.queueType == .stream, queue.arguments.maxLength != nil {
                throw .preconditionFailed("x-max-length does not apply to a stream queue")
            }
            if let maxLength = queue.arguments.maxLength, maxLength < 0 {
                throw .preconditionFailed("x-max-length must be non-negative, got \(maxLength)")
            }
            var declaration = queue
            if declaration.name.isEmpty { declaration.name = "amq.gen-\(state.makeID())" }
            if state.queues[declaration.name] != nil {
                let existing = try state.queue(declaration.name, usableBy: connection)
                guard existing.declaration == declaration else {
                    throw .preconditionFailed("inequivalent declaration of queue '\(declaration.name)'")
                }
                return existing.status
            }
            let created = QueueState(declaration, owner: declaration.exclusive ? connection : nil)
            state.queues[declaration.name] = created
            return created.status
        }
    }

    func checkExchange(_ name: String, by connection: UInt64) throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            guard name.isEmpty || state.exchanges[name] != nil else { throw .notFound("no exchange '\(name)'") }
        }
    }

    func queueStatus(_ name: String, by connection: UInt64) throws(TransportError) -> QueueStatus {
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            return try state.queue(name, usableBy: connection).status
        }
    }

    func bindQueue(_ queue: String, exchange: String, routingKey: String, by connection: UInt64) throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            guard !exchange.isEmpty else { throw .accessRefused("the default exchange cannot be bound") }
            guard let exchangeState = state.exchanges[exchange] else { throw .notFound("exchange '\(exchange)'") }
            _ = try state.queue(queue, usableBy: connection)
            let binding = ExchangeState.Binding(queue: queue, routingKey: routingKey)
            if !exchangeState.bindings.contains(binding) { exchangeState.bindings.append(binding) }
        }
    }

    func unbindQueue(_ queue: String, exchange: String, routingKey: String, by connection: UInt64) throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            guard let exchangeState = state.exchanges[exchange] else { throw .notFound("exchange '\(exchange)'") }
            _ = try state.queue(queue, usableBy: connection)
            exchangeState.bindings.removeAll { $0 == ExchangeState.Binding(queue: queue, routingKey: routingKey) }
        }
    }

    func deleteQueue(_ name: String, by connection: UInt64) throws(TransportError) {
        let finished = try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            _ = try state.queue(name, usableBy: connection)
            return state.deleteQueue(name)
        }
        finished.forEach { $0.finish() }
    }

    func purgeQueue(_ name: String, by connection: UInt64) throws(TransportError) -> Int {
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            let queue = try state.queue(name, usableBy: connection)
            defer { queue.ready = MessageRing() }
            return queue.ready.count
        }
    }

    func publish(
        _ body: [UInt8], exchange: String, routingKey: String, properties: MessageProperties, mandatory: Bool,
        by connection: UInt64
    ) throws(TransportError) {
        let message = StoredMessage(
            body: body, properties: properties, exchange: exchange, routingKey: routingKey, redelivered: false)
        try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            let targets = try state.targets(exchange: exchange, routingKey: routingKey)
            if targets.isEmpty && mandatory { throw .unroutable(exchange: exchange, routingKey: routingKey) }
            var refusedBy: String?
            for queue in targets where !state.enqueue(message, into: queue, acknowledger: self) {
                refusedBy = queue.declaration.name
            }
            if let refusedBy { throw .publishRejected(queue: refusedBy) }
        }
    }

    /// Starts a consumer; `offset` is where a stream reader starts (nil: a queue's consumer,
    /// or a stream reader of `.next`, as RabbitMQ starts one without `x-stream-offset`).
    func consume(
        queue: String, prefetch: Int, exclusive: Bool, from offset: StreamOffset? = nil, by connection: UInt64
    ) throws(TransportError) -> Consumer {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Delivery.self)
        let termination = Consumer.Termination()
        let id = try state.withLock { state throws(TransportError) in
            try state.checkOpen(connection)
            guard prefetch >= 0 else { throw .preconditionFailed("prefetch must be non-negative, got \(prefetch)") }
            let queueState = try state.queue(queue, usableBy: connection)
            if queueState.consumers.contains(where: \.exclusive) || (exclusive && !queueState.consumers.isEmpty) {
                throw .accessRefused("queue '\(queue)' is consumed exclusively")
            }
            var cursor: UInt64?
            if let log = queueState.log {
                guard prefetch > 0 else { throw .preconditionFailed("a stream reader needs a prefetch above 0") }
                cursor = log.start(at: offset ?? .next)
            } else if offset != nil {
                throw .preconditionFailed("queue '\(queue)' is not a stream")
            }
            let id = state.makeID()
            queueState.consumers.append(
                QueueState.ConsumerState(
                    id: id, connection: connection, prefetch: prefetch, exclusive: exclusive, cursor: cursor,
                    continuation: continuation, termination: termination))
            state.dispatch(queueState, acknowledger: self)
            return id
        }
        // A consumer whose iteration ends (its task cancelled, the sequence dropped) is
        // cancelled too, so its unsettled messages go back to the queue.
        continuation.onTermination = { [weak self] _ in self?.consumerEnded(id, queue: queue) }
        return Consumer(tag: "ctag-\(id)", queue: queue, deliveries: stream, termination: termination) {
            [weak self] in
            self?.cancelConsumer(id, queue: queue)
        }
    }

    func closeConnection(_ connection: UInt64) {
        state.withLock { $0.closeConnection(connection, acknowledger: self) }.forEach { $0.finish() }
    }

    private func cancelConsumer(_ id: UInt64, queue: String) {
        state.withLock { $0.cancelConsumer(id, queue: queue, acknowledger: self) }.forEach { $0.finish() }
    }

    /// A consumer's stream ended (its task cancelled, the sequence dropped). The concurrency
    /// runtime may call this while it holds the cancelled task's status lock, and a publish
    /// that holds the broker's lock while it hands a delivery to that same stream needs that
    /// task lock to resume its reader: waiting here for the broker's lock deadlocked (a stream
    /// worker cancelling its readers while the coordinator published, in a test). So the lock
    /// is taken only if it is free, and otherwise the consumer is cancelled from a task of its
    /// own a moment later. Meanwhile its stream is finished: a delivery handed to it is
    /// dropped and stays unsettled under this consumer, and the cancel puts it back.
    private func consumerEnded(_ id: UInt64, queue: String) {
        if let finished = state.withLockIfAvailable({ $0.cancelConsumer(id, queue: queue, acknowledger: self) }) {
            finished.forEach { $0.finish() }
        } else {
            Task.detached { [weak self] in self?.cancelConsumer(id, queue: queue) }
        }
    }
}
