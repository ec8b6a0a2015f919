import CRabbitMQ
import Foundation

/// Consuming: qos, consume, cancel, ack / nack / reject, get.
extension ConnectionSession {
    func setPrefetch(_ handle: ChannelHandle, count: UInt16) throws(AMQPError) {
        let record = try record(handle, "basic.qos")
        _ = amqp_basic_qos(state, handle.number, 0, count, 0)
        try checkReply(operation: "basic.qos prefetch \(count) on channel \(handle.number)", channel: record)
    }

    func consume(_ handle: ChannelHandle, queue: String, consumerTag: String, exclusive: Bool, arguments: AMQPTable,
                 sink: DeliverySink) throws(AMQPError) {
        let operation = "consume from queue '\(queue)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        _ = amqp_basic_consume(state, handle.number, allocation.bytes(queue), allocation.bytes(consumerTag), 0, 0,
                               exclusive ? 1 : 0, allocation.table(arguments))
        withExtendedLifetime(allocation) {}
        try checkReply(operation: operation, channel: record)
        record.consumers[consumerTag] = sink
        if arguments["x-stream-offset"] != nil { record.readsStream = true }
    }

    /// Stops a consumer; unacked deliveries go back to the queue when the channel closes.
    func cancelConsumer(_ handle: ChannelHandle, consumerTag: String) {
        guard isOpen, let record = channels[handle.number], record.handle == handle,
              let sink = record.consumers.removeValue(forKey: consumerTag)
        else { return }
        sink.finish()
        let allocation = CAllocation()
        _ = amqp_basic_cancel(state, handle.number, allocation.bytes(consumerTag))
        withExtendedLifetime(allocation) {}
        try? checkReply(operation: "cancel consumer \(consumerTag)", channel: record)
    }

    func acknowledge(_ handle: ChannelHandle, deliveryTag: UInt64, outcome: AMQPAcknowledger.Outcome) throws(AMQPError) {
        let operation = "\(outcome) delivery \(deliveryTag)"
        _ = try record(handle, operation)
        let status: Int32 = switch outcome {
        case .ack(let multiple): amqp_basic_ack(state, handle.number, deliveryTag, multiple ? 1 : 0)
        case .nack(let requeue, let multiple): amqp_basic_nack(state, handle.number, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0)
        case .reject(let requeue): amqp_basic_reject(state, handle.number, deliveryTag, requeue ? 1 : 0)
        }
        try checkStatus(status, operation: operation)
    }

    func get(_ handle: ChannelHandle, queue: String, autoAck: Bool) throws(AMQPError) -> AMQPDelivery? {
        let operation = "basic.get from queue '\(queue)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        let reply = amqp_basic_get(state, handle.number, allocation.bytes(queue), autoAck ? 1 : 0)
        withExtendedLifetime(allocation) {}
        if reply.reply_type == AMQP_RESPONSE_NORMAL && reply.reply.id == Method.basicGetEmpty { return nil }
        try checkReply(operation: operation, channel: record)
        let getOk = reply.reply.decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
        let exchange = String(amqpBytes: getOk.exchange)
        let routingKey = String(amqpBytes: getOk.routing_key)
        var got: AMQPDelivery?
        expectContent(on: record) { [thread] body, properties in
            got = AMQPDelivery(body: body, properties: properties, exchange: exchange, routingKey: routingKey,
                               redelivered: getOk.redelivered != 0, deliveryTag: getOk.delivery_tag,
                               messageCount: Int(getOk.message_count),
                               acknowledger: autoAck ? nil : AMQPAcknowledger(thread: thread, channel: handle))
        }
        guard awaitContent(of: record), let got else {
            try ensureOpen(operation)
            throw AMQPError(.channelClosed, "the channel closed before the message arrived", operation: operation)
        }
        return got
    }
}
