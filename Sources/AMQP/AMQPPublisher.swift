import Foundation

/// Publishes on a channel in confirm mode. An awaited ``publish(_:exchange:routingKey:properties:mandatory:)``
/// returns only once the broker confirmed the message; many concurrent
/// publishes pipeline up to `window` unconfirmed messages, further ones wait
/// their turn on the connection thread (backpressure without blocking tasks).
public final class AMQPPublisher: Sendable {
    public let channel: AMQPChannel
    public let window: Int

    init(channel: AMQPChannel, window: Int) async throws {
        self.channel = channel
        self.window = window
        let handle = channel.handle
        try await channel.connection.thread.perform { session throws(AMQPError) in
            try session.selectConfirms(handle, window: window)
        }
    }

    /// Publishes `body` and waits for the broker's confirm. `body` is any contiguous bytes
    /// (`Data`, `[UInt8]`): librabbitmq reads it where it is, so no conversion copies it.
    /// - Parameter mandatory: fail with `.noRoute` (312) if no queue receives it.
    /// - Throws: `AMQPError`: `.nacked`, `.noRoute` for a returned mandatory
    ///   message, `.notFound` for a missing exchange, or a connection loss (the
    ///   message may or may not have arrived: publish it again).
    public func publish(_ body: some ContiguousBytes & Sendable, exchange: String, routingKey: String, properties: AMQPProperties = AMQPProperties(),
                        mandatory: Bool = false) async throws {
        let message = OutgoingMessage(body: body, exchange: exchange, routingKey: routingKey, properties: properties,
                                      mandatory: mandatory)
        let handle = channel.handle
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            channel.connection.thread.submit(SessionJob(
                run: { session in
                    session.publish(handle, message) { result in continuation.resume(with: result) }
                },
                fail: { continuation.resume(throwing: $0) }
            ))
        }
    }
}
