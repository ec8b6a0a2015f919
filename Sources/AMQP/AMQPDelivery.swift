import Foundation

/// Sends a delivery's ack / nack / reject back on the channel it came from.
struct AMQPAcknowledger: Sendable {
    enum Outcome: Sendable, CustomStringConvertible {
        case ack(multiple: Bool)
        case nack(requeue: Bool, multiple: Bool)
        case reject(requeue: Bool)

        var description: String {
            switch self {
            case .ack: "ack"
            case .nack: "nack"
            case .reject: "reject"
            }
        }
    }

    let thread: ConnectionThread
    let channel: ChannelHandle

    /// Queues the acknowledgement without waiting for the connection thread:
    /// a round trip per message would halve consumer throughput. If sending
    /// fails the channel or connection closes, and the consumer's sequence
    /// ends with that error (the broker then redelivers).
    func settle(_ deliveryTag: UInt64, _ outcome: Outcome) throws {
        if let ended = thread.endReason {
            throw AMQPError(ended.code, ended.text, operation: "\(outcome) delivery \(deliveryTag)")
        }
        let channel = channel
        thread.post { session in try? session.acknowledge(channel, deliveryTag: deliveryTag, outcome: outcome) }
    }
}

/// A message received by a consumer or `basic.get`.
public struct AMQPDelivery: Sendable {
    /// The body, copied once out of librabbitmq's frame buffers.
    public let body: [UInt8]
    public let properties: AMQPProperties
    public let exchange: String
    public let routingKey: String
    /// True when the broker delivered this message before and it was not acked.
    public let redelivered: Bool
    public let deliveryTag: UInt64
    /// Messages left in the queue (only from `basic.get`).
    public let messageCount: Int?
    let acknowledger: AMQPAcknowledger?

    /// Tells the broker the message is done with.
    /// - Throws: `AMQPError` (`.channelClosed`, `.connectionClosed`, …) when the
    ///   channel is gone; the broker then redelivers the message.
    public func ack(multiple: Bool = false) async throws {
        try acknowledger?.settle(deliveryTag, .ack(multiple: multiple))
    }

    /// Negative acknowledgement: requeue, or dead-letter (`requeue: false`).
    public func nack(requeue: Bool, multiple: Bool = false) async throws {
        try acknowledger?.settle(deliveryTag, .nack(requeue: requeue, multiple: multiple))
    }

    /// Rejects this message only: requeue, or dead-letter (`requeue: false`).
    public func reject(requeue: Bool) async throws {
        try acknowledger?.settle(deliveryTag, .reject(requeue: requeue))
    }
}
