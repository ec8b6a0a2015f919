import Synchronization

/// An in-process broker with the AMQP semantics the pipeline's roles rely on: direct and
/// fanout exchanges, the default exchange, queues with competing consumers served
/// round-robin under each consumer's prefetch, ack / nack / reject with requeue
/// (redelivered flag) or dead-lettering (`x-death`), `x-max-length` with drop-head or
/// reject-publish, single active consumer, and auto-delete / exclusive queues removed
/// when their last consumer goes. It makes `fedq simulate` need no set-up.
///
/// All state sits behind one mutex; every operation is short and never suspends inside
/// it, so it is safe to call from any task. Bodies are never copied: every queue a
/// message is routed to shares the publisher's array.
///
/// Differences from RabbitMQ, on purpose: nothing is persisted (durable is accepted and
/// ignored); "exclusive" queues belong to the broker, not to a connection, and are
/// deleted like auto-delete ones when their last consumer goes; stream queues are not
/// supported; `close()` closes the whole broker.
public final class EmbeddedBroker: Transport, DeliveryAcknowledger {
    private let state = Mutex(BrokerState())

    public init() {}

    public func declareExchange(_ exchange: ExchangeDeclaration) async throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
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

    @discardableResult
    public func declareQueue(_ queue: QueueDeclaration) async throws(TransportError) -> QueueStatus {
        try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            if queue.arguments.queueType == .stream {
                throw .notSupported("stream queues in the embedded broker")
            }
            if let maxLength = queue.arguments.maxLength, maxLength < 0 {
                throw .preconditionFailed("x-max-length must be non-negative, got \(maxLength)")
            }
            var declaration = queue
            if declaration.name.isEmpty { declaration.name = "amq.gen-\(state.makeID())" }
            if let existing = state.queues[declaration.name] {
                guard existing.declaration == declaration else {
                    throw .preconditionFailed("inequivalent declaration of queue '\(declaration.name)'")
                }
                return existing.status
            }
            let created = QueueState(declaration)
            state.queues[declaration.name] = created
            return created.status
        }
    }

    public func queueStatus(_ name: String) async throws(TransportError) -> QueueStatus {
        try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            guard let queue = state.queues[name] else { throw .notFound("queue '\(name)'") }
            return queue.status
        }
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            guard !exchange.isEmpty else { throw .accessRefused("the default exchange cannot be bound") }
            guard let exchangeState = state.exchanges[exchange] else { throw .notFound("exchange '\(exchange)'") }
            guard state.queues[queue] != nil else { throw .notFound("queue '\(queue)'") }
            let binding = ExchangeState.Binding(queue: queue, routingKey: routingKey)
            if !exchangeState.bindings.contains(binding) { exchangeState.bindings.append(binding) }
        }
    }

    public func deleteQueue(_ name: String) async throws(TransportError) {
        let finished = try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            guard state.queues[name] != nil else { throw .notFound("queue '\(name)'") }
            return state.deleteQueue(name)
        }
        finished.forEach { $0.finish() }
    }

    public func publish(
        _ body: [UInt8], exchange: String, routingKey: String, properties: MessageProperties, mandatory: Bool
    ) async throws(TransportError) {
        let message = StoredMessage(
            body: body, properties: properties, exchange: exchange, routingKey: routingKey, redelivered: false)
        try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            let targets = try state.targets(exchange: exchange, routingKey: routingKey)
            if targets.isEmpty && mandatory { throw .unroutable(exchange: exchange, routingKey: routingKey) }
            var refusedBy: String?
            for queue in targets where !state.enqueue(message, into: queue, acknowledger: self) {
                refusedBy = queue.declaration.name
            }
            if let refusedBy { throw .publishRejected(queue: refusedBy) }
        }
    }

    public func consume(queue: String, prefetch: Int, exclusive: Bool) async throws(TransportError) -> Consumer {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Delivery.self)
        let id = try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            guard prefetch >= 0 else { throw .preconditionFailed("prefetch must be non-negative, got \(prefetch)") }
            guard let queueState = state.queues[queue] else { throw .notFound("queue '\(queue)'") }
            if queueState.consumers.contains(where: \.exclusive) || (exclusive && !queueState.consumers.isEmpty) {
                throw .accessRefused("queue '\(queue)' is consumed exclusively")
            }
            let id = state.makeID()
            queueState.consumers.append(
                QueueState.ConsumerState(id: id, prefetch: prefetch, exclusive: exclusive, continuation: continuation))
            state.dispatch(queueState, acknowledger: self)
            return id
        }
        // A consumer whose iteration ends (its task cancelled, the sequence dropped) is
        // cancelled too, so its unsettled messages go back to the queue.
        continuation.onTermination = { [weak self] _ in self?.cancelConsumer(id, queue: queue) }
        return Consumer(tag: "ctag-\(id)", queue: queue, deliveries: stream) { [weak self] in
            self?.cancelConsumer(id, queue: queue)
        }
    }

    public func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome) async throws(TransportError) {
        try state.withLock { state throws(TransportError) in
            guard !state.isClosed else { throw .closed }
            try state.settle(deliveryTag, outcome, acknowledger: self)
        }
    }

    public func close() async {
        state.withLock { $0.close() }.forEach { $0.finish() }
    }

    private func cancelConsumer(_ id: UInt64, queue: String) {
        state.withLock { $0.cancelConsumer(id, queue: queue, acknowledger: self) }.forEach { $0.finish() }
    }
}
