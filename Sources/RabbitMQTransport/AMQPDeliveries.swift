import AMQP
import FedCore
import Messaging
import Synchronization

/// A RabbitMQ consumer's deliveries as the pipeline's `Delivery` values, ending the way
/// an embedded consumer ends.
struct AMQPDeliveries: AsyncSequence, Sendable {
    let consumer: AMQPConsumer
    let transport: AMQPTransport
    let termination: Consumer.Termination
    let queue: String

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: AMQPConsumer.AsyncIterator
        let transport: AMQPTransport
        let termination: Consumer.Termination
        let queue: String

        mutating func next() async throws -> Delivery? {
            let delivery: AMQPDelivery
            do {
                guard let next = try await base.next() else { return nil }
                delivery = next
            } catch let error as AMQPError where error.code == .notFound {
                // The broker cancels the consumers of a deleted queue (basic.cancel): an
                // error, not an end, so the role starts a new session and subscribes again
                // instead of sitting idle with no consumer.
                if transport.isClosed { return nil }
                throw TransportError.consumerCancelled(queue: queue)
            } catch {
                if transport.isClosed { return nil }
                throw transport.transportError(error)
            }
            let properties = MessageProperties(delivery.properties)
            return Delivery(
                body: delivery.body, properties: properties,
                exchange: delivery.exchange, routingKey: delivery.routingKey, redelivered: delivery.redelivered,
                deliveryTag: delivery.deliveryTag, streamOffset: AMQPDeliveries.streamOffset(properties),
                acknowledger: AMQPSettlement(delivery: delivery, transport: transport, termination: termination))
        }
    }

    /// A stream delivery's offset, which RabbitMQ puts in the `x-stream-offset` header.
    static func streamOffset(_ properties: MessageProperties) -> UInt64? {
        guard case .int(let value)? = properties.headers["x-stream-offset"] else { return nil }
        return UInt64(exactly: value)
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: consumer.makeAsyncIterator(), transport: transport, termination: termination, queue: queue)
    }
}

/// Settles one RabbitMQ delivery. A second settle of the same tag would make RabbitMQ
/// close the consumer's channel (406), taking the consumer down with it, so it is refused
/// here as the embedded broker refuses it; so is a settle after the consumer was
/// cancelled, whose channel closing already returned the message to the queue.
final class AMQPSettlement: DeliveryAcknowledger {
    private let delivery: AMQPDelivery
    private let transport: AMQPTransport
    private let termination: Consumer.Termination
    private let settled = Atomic(false)

    init(delivery: AMQPDelivery, transport: AMQPTransport, termination: Consumer.Termination) {
        self.delivery = delivery
        self.transport = transport
        self.termination = termination
    }

    func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome, multiple: Bool) async throws(TransportError) {
        guard !termination.isSet, !settled.exchange(true, ordering: .acquiringAndReleasing) else {
            throw .unknownDeliveryTag(deliveryTag)
        }
        do {
            switch outcome {
            case .ack: try await delivery.ack(multiple: multiple)
            case .nack(let requeue): try await delivery.nack(requeue: requeue)
            case .reject(let requeue): try await delivery.reject(requeue: requeue)
            }
        } catch {
            throw transport.transportError(error)
        }
    }
}
