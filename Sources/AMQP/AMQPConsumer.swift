/// Deliveries of one consumer, in order. The sequence ends by throwing the
/// `AMQPError` that closed the channel or connection (never by hanging), and
/// cancels the consumer on the broker when iteration stops.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    /// Keeps the channel (and so the connection) open while the consumer lives.
    public let channel: AMQPChannel
    public let consumerTag: String
    let stream: AsyncThrowingStream<AMQPDelivery, Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<AMQPDelivery, Error>.AsyncIterator
        let channel: AMQPChannel

        public mutating func next() async throws -> AMQPDelivery? {
            try await base.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), channel: channel)
    }
}
