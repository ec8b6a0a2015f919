/// A running consumer: iterate it for deliveries. The sequence ends when the consumer is
/// cancelled, its queue deleted or the transport closed; it throws if the transport
/// lost its connection.
public struct Consumer: AsyncSequence, Sendable {
    public typealias Element = Delivery

    /// The broker's name for this consumer.
    public let tag: String
    public let queue: String
    private let deliveries: AsyncThrowingStream<Delivery, any Error>
    private let cancellation: @Sendable () async -> Void

    /// Transports create consumers; `cancel` must return unsettled deliveries to the queue.
    public init(
        tag: String, queue: String, deliveries: AsyncThrowingStream<Delivery, any Error>,
        cancel: @escaping @Sendable () async -> Void
    ) {
        self.tag = tag
        self.queue = queue
        self.deliveries = deliveries
        self.cancellation = cancel
    }

    /// Stops the consumer: no more deliveries, and its unsettled ones go back to the
    /// queue marked redelivered (as when a RabbitMQ consumer's channel closes), so
    /// another consumer gets them.
    public func cancel() async {
        await cancellation()
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<Delivery, any Error>.Iterator {
        deliveries.makeAsyncIterator()
    }
}
