import Synchronization

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
    private let cancelled = CancellationFlag()

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

    /// Stops the consumer: iteration ends at once (deliveries already buffered are not
    /// handed out), and its unsettled deliveries go back to the queue marked redelivered,
    /// as when a RabbitMQ consumer's channel closes, so another consumer gets them.
    public func cancel() async {
        cancelled.set()
        await cancellation()
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: deliveries.makeAsyncIterator(), cancelled: cancelled)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Delivery, any Error>.Iterator
        let cancelled: CancellationFlag

        public mutating func next() async throws -> Delivery? {
            guard !cancelled.isSet, let delivery = try await base.next(), !cancelled.isSet else { return nil }
            return delivery
        }
    }

    /// Set once by `cancel`, read by iterators: a delivery buffered before the cancel has
    /// been returned to the queue, so handing it out would process it twice.
    final class CancellationFlag: Sendable {
        private let flag = Atomic(false)

        var isSet: Bool { flag.load(ordering: .acquiring) }

        func set() { flag.store(true, ordering: .releasing) }
    }
}
