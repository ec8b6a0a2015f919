import FedCore

/// One message handed to a consumer. It must be settled exactly once (ack, nack or
/// reject); until then it counts against the consumer's prefetch.
public struct Delivery: Sendable {
    /// The body, shared with the broker's copy rather than copied (arrays are
    /// copy-on-write), so a 200 KB update costs no copy per hop.
    public let body: [UInt8]
    public let properties: MessageProperties
    /// The exchange it was published (or dead-lettered) to.
    public let exchange: String
    public let routingKey: String
    /// Set when the message was delivered before and returned to the queue unsettled
    /// (requeued, or its consumer went away): the consumer may have acted on it already.
    public let redelivered: Bool
    /// The broker's handle for settling it.
    public let deliveryTag: UInt64
    /// Its position in a stream queue (RabbitMQ's `x-stream-offset` header); nil for a
    /// message off an ordinary queue.
    public let streamOffset: UInt64?
    private let acknowledger: any DeliveryAcknowledger

    /// Transports create deliveries; roles only read and settle them.
    public init(
        body: [UInt8], properties: MessageProperties, exchange: String, routingKey: String,
        redelivered: Bool, deliveryTag: UInt64, streamOffset: UInt64? = nil, acknowledger: any DeliveryAcknowledger
    ) {
        self.body = body
        self.properties = properties
        self.exchange = exchange
        self.routingKey = routingKey
        self.redelivered = redelivered
        self.deliveryTag = deliveryTag
        self.streamOffset = streamOffset
        self.acknowledger = acknowledger
    }

    /// The same handle without its body: what a consumer keeps to settle a message whose
    /// bytes it no longer needs (the chunks of a reassembled message).
    public func withoutBody() -> Delivery {
        Delivery(
            body: [], properties: properties, exchange: exchange, routingKey: routingKey, redelivered: redelivered,
            deliveryTag: deliveryTag, streamOffset: streamOffset, acknowledger: acknowledger)
    }

    /// Done with it: the broker forgets it.
    ///
    /// With `multiple`, also every earlier delivery of the same consumer that is still
    /// unsettled (AMQP's `basic.ack` with `multiple`): one frame, and one operation of the
    /// broker's queue, for a whole batch instead of one each. Only for a consumer that
    /// settles in delivery order: an earlier delivery settled again afterwards is an
    /// unknown tag (RabbitMQ closes the channel for it).
    /// - Throws: `.unknownDeliveryTag` if it was already settled or its consumer is gone.
    public func ack(multiple: Bool = false) async throws(TransportError) {
        try await acknowledger.settle(deliveryTag: deliveryTag, .ack, multiple: multiple)
    }

    /// Not processed: back to the queue (`requeue`) for another consumer, or to the
    /// queue's dead-letter exchange (dropped when it has none).
    public func nack(requeue: Bool) async throws(TransportError) {
        try await acknowledger.settle(deliveryTag: deliveryTag, .nack(requeue: requeue), multiple: false)
    }

    /// As `nack`; AMQP's single-message form, what a poison message gets.
    public func reject(requeue: Bool) async throws(TransportError) {
        try await acknowledger.settle(deliveryTag: deliveryTag, .reject(requeue: requeue), multiple: false)
    }
}

/// How a consumer settled a delivery.
public enum DeliveryOutcome: Sendable, Equatable {
    case ack
    case nack(requeue: Bool)
    case reject(requeue: Bool)

    /// Whether the message goes back to its queue.
    public var requeues: Bool {
        switch self {
        case .ack: false
        case .nack(let requeue), .reject(let requeue): requeue
        }
    }
}

/// Settles deliveries on behalf of a transport (its channel, for RabbitMQ).
public protocol DeliveryAcknowledger: Sendable {
    /// `multiple`: also the consumer's earlier unsettled deliveries (see ``Delivery/ack(multiple:)``).
    func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome, multiple: Bool) async throws(TransportError)
}
