import FedCore

/// One connection to an `EmbeddedBroker`, as a role would hold one to RabbitMQ. Closing
/// it cancels its consumers (their unsettled messages go back to their queues, marked
/// redelivered) and deletes the exclusive queues it declared, which is how tests and
/// `fedq simulate` stage a role crashing without touching the others.
public struct EmbeddedConnection: Transport {
    private let broker: EmbeddedBroker
    private let id: UInt64

    init(broker: EmbeddedBroker, id: UInt64) {
        self.broker = broker
        self.id = id
    }

    public func declareExchange(_ exchange: ExchangeDeclaration) async throws(TransportError) {
        try broker.declareExchange(exchange, by: id)
    }

    @discardableResult
    public func declareQueue(_ queue: QueueDeclaration) async throws(TransportError) -> QueueStatus {
        try broker.declareQueue(queue, by: id)
    }

    public func checkExchange(_ name: String) async throws(TransportError) {
        try broker.checkExchange(name, by: id)
    }

    public func queueStatus(_ name: String) async throws(TransportError) -> QueueStatus {
        try broker.queueStatus(name, by: id)
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError) {
        try broker.bindQueue(queue, exchange: exchange, routingKey: routingKey, by: id)
    }

    public func unbindQueue(_ queue: String, exchange: String, routingKey: String) async throws(TransportError) {
        try broker.unbindQueue(queue, exchange: exchange, routingKey: routingKey, by: id)
    }

    public func deleteQueue(_ name: String) async throws(TransportError) {
        try broker.deleteQueue(name, by: id)
    }

    @discardableResult
    public func purgeQueue(_ name: String) async throws(TransportError) -> Int {
        try broker.purgeQueue(name, by: id)
    }

    public func publish(
        _ body: [UInt8], exchange: String, routingKey: String, properties: MessageProperties, mandatory: Bool
    ) async throws(TransportError) {
        try broker.publish(
            body, exchange: exchange, routingKey: routingKey, properties: properties, mandatory: mandatory, by: id)
    }

    public func consume(queue: String, prefetch: Int, exclusive: Bool) async throws(TransportError) -> Consumer {
        try broker.consume(queue: queue, prefetch: prefetch, exclusive: exclusive, by: id)
    }

    public func consume(stream: String, prefetch: Int, from offset: StreamOffset) async throws(TransportError) -> Consumer {
        try broker.consume(queue: stream, prefetch: prefetch, exclusive: false, from: offset, by: id)
    }

    /// Closes this connection only; the broker and other connections go on.
    public func close() async {
        broker.closeConnection(id)
    }
}
