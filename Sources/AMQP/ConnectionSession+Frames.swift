import CRabbitMQ
import Foundation

/// Reading and dispatching asynchronous frames: confirms, returns,
/// deliveries, and closes initiated by the broker.
extension ConnectionSession {
    /// Handles up to `limit` frames that are already buffered or readable.
    /// The 1 µs timeout (not 0) makes librabbitmq also send due heartbeats
    /// and notice missed ones; with 0 it skips both.
    /// - Returns: how many frames were handled.
    func pumpFrames(limit: Int) -> Int {
        var handled = 0
        while handled < limit && isOpen && handleNextFrame(waiting: timeval(tv_sec: 0, tv_usec: 1)) { handled += 1 }
        return handled
    }

    /// Reads one frame, waiting at most `timeout` for it, and handles it.
    /// - Returns: false when none came in time or the connection failed.
    func handleNextFrame(waiting timeout: timeval) -> Bool {
        var frame = amqp_frame_t()
        var timeout = timeout
        let status = amqp_simple_wait_frame_noblock(state, &frame, &timeout)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return false }
        if let error = AMQPError.status(status, operation: "read from \(configuration.redactedURL)") {
            fail(error)
            return false
        }
        handle(frame)
        amqp_maybe_release_buffers(state)
        return true
    }

    func handle(_ frame: amqp_frame_t) {
        if frame.frame_type == UInt8(AMQP_FRAME_HEADER) || frame.frame_type == UInt8(AMQP_FRAME_BODY) {
            if let record = channels[frame.channel] { handleContent(frame, on: record) }
            return
        }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return }
        let method = frame.payload.method
        let number = frame.channel
        if method.id == Method.connectionClose {
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            acknowledgeConnectionClose()
            fail(AMQPError(AMQPError.Code(Int32(close.reply_code)), String(amqpBytes: close.reply_text),
                           operation: "connection to \(configuration.redactedURL)"))
            return
        }
        if method.id == Method.connectionBlocked {
            let blocked = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            blockedReason = String(amqpBytes: blocked.reason).isEmpty ? "resource alarm" : String(amqpBytes: blocked.reason)
            return
        }
        if method.id == Method.connectionUnblocked {
            blockedReason = nil
            for record in channels.values { sendWaiting(record) }
            return
        }
        guard let record = channels[number] else { return }
        switch method.id {
        case Method.basicAck:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirm(record, tag: ack.delivery_tag, multiple: ack.multiple != 0, acknowledged: true)
        case Method.basicNack:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            confirm(record, tag: nack.delivery_tag, multiple: nack.multiple != 0, acknowledged: false)
        case Method.basicReturn:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let exchange = String(amqpBytes: returned.exchange)
            let routingKey = String(amqpBytes: returned.routing_key)
            let error = AMQPError(AMQPError.Code(Int32(returned.reply_code)), String(amqpBytes: returned.reply_text),
                                  operation: "mandatory publish to '\(exchange)' with key '\(routingKey)' returned")
            expectContent(on: record) { [unowned self] _, properties in
                markReturned(record, exchange: exchange, routingKey: routingKey, messageId: properties.messageId, error: error)
            }
        case Method.basicDeliver:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let consumerTag = String(amqpBytes: deliver.consumer_tag)
            let exchange = String(amqpBytes: deliver.exchange)
            let routingKey = String(amqpBytes: deliver.routing_key)
            let (redelivered, deliveryTag) = (deliver.redelivered != 0, deliver.delivery_tag)
            expectContent(on: record) { [unowned self] body, properties in
                guard let sink = record.consumers[consumerTag] else {
                    // The consumer went away while this was in flight: give the message back
                    // (a stream keeps it anyway and only wants its credit back).
                    if record.readsStream {
                        _ = amqp_basic_ack(state, number, deliveryTag, 0)
                    } else {
                        _ = amqp_basic_reject(state, number, deliveryTag, 1)
                    }
                    return
                }
                sink.yield(AMQPDelivery(body: body, properties: properties, exchange: exchange, routingKey: routingKey,
                                        redelivered: redelivered, deliveryTag: deliveryTag, messageCount: nil,
                                        acknowledger: AMQPAcknowledger(thread: thread, channel: record.handle)))
            }
        case Method.basicCancel:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let consumerTag = String(amqpBytes: cancel.consumer_tag)
            record.consumers.removeValue(forKey: consumerTag)?.finish(throwing: AMQPError(
                .notFound, "the broker cancelled consumer \(consumerTag) (queue deleted or failed over)",
                operation: "consume"))
        case Method.channelClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            acknowledgeChannelClose(number)
            forget(record, AMQPError(AMQPError.Code(Int32(close.reply_code)), String(amqpBytes: close.reply_text),
                                     operation: "channel \(number)"))
        default:
            break
        }
    }
}
