import FedCore
import Synchronization

/// A running consumer: iterate it for deliveries. The sequence ends when the consumer is
/// cancelled, its queue deleted or the transport closed; it throws if the transport
/// lost its connection.
public struct Consumer: AsyncSequence, Sendable {
    public typealias Element = Delivery

    /// The broker's name for this consumer.
    public let tag: String
    public let queue: String
    private let deliveries: any AsyncSequence<Delivery, any Error> & Sendable
    private let cancellation: @Sendable () async -> Void
    private let termination: Termination

    /// Transports create consumers from any sequence of deliveries: the embedded broker's
    /// stream, or one that maps a RabbitMQ consumer's. `cancel` must return unsettled
    /// deliveries to the queue; whenever the transport itself ends the consumer (queue
    /// deleted, connection closed) it must set `termination` before ending `deliveries`.
    public init(
        tag: String, queue: String, deliveries: some AsyncSequence<Delivery, any Error> & Sendable,
        termination: Termination = Termination(), cancel: @escaping @Sendable () async -> Void
    ) {
        self.tag = tag
        self.queue = queue
        self.deliveries = deliveries
        self.termination = termination
        self.cancellation = cancel
    }

    /// Stops the consumer: iteration ends at once (deliveries already buffered are not
    /// handed out), and its unsettled deliveries go back to the queue marked redelivered,
    /// as when a RabbitMQ consumer's channel closes, so another consumer gets them.
    public func cancel() async {
        termination.set()
        await cancellation()
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: Self.iterator(of: deliveries), termination: termination)
    }

    /// Opens the existential: the iterator's element and failure follow from the sequence's.
    private static func iterator(
        of sequence: some AsyncSequence<Delivery, any Error>
    ) -> any AsyncIteratorProtocol<Delivery, any Error> {
        sequence.makeAsyncIterator()
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: any AsyncIteratorProtocol<Delivery, any Error>
        let termination: Termination

        /// Once the consumer was ended on purpose, whatever the backing sequence does
        /// next (a RabbitMQ channel closing under it throws) is the normal end; one the
        /// broker ended (its queue deleted) throws the reason it was given.
        public mutating func next() async throws -> Delivery? {
            if termination.isSet { return try termination.finish() }
            do {
                guard let delivery = try await base.next() else { return nil }
                if termination.isSet { return try termination.finish() }
                return delivery
            } catch {
                if termination.isSet { return try termination.finish() }
                throw error
            }
        }
    }

    /// Set once when the consumer ends, read by iterators: deliveries still buffered
    /// then have been returned to the queue, so handing them out would process them twice.
    public final class Termination: Sendable {
        private let flag = Atomic(false)
        private let reason = Mutex<TransportError?>(nil)

        public init() {}

        public var isSet: Bool { flag.load(ordering: .acquiring) }

        /// Ends the consumer; with `reason` (the first one given counts), iteration throws
        /// it instead of ending quietly.
        public func set(because reason: TransportError? = nil) {
            if let reason { self.reason.withLock { if $0 == nil { $0 = reason } } }
            flag.store(true, ordering: .releasing)
        }

        /// How an ended consumer's iteration ends: nil (ended on purpose), or its reason thrown.
        func finish() throws(TransportError) -> Delivery? {
            if let reason = reason.withLock({ $0 }) { throw reason }
            return nil
        }
    }
}
