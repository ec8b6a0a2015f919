import CRabbitMQ
import Foundation

/// Publishing with publisher confirms (https://www.rabbitmq.com/confirms.html).
extension ConnectionSession {
    func selectConfirms(_ handle: ChannelHandle, window: Int) throws(AMQPError) {
        let record = try record(handle, "confirm.select")
        _ = amqp_confirm_select(state, handle.number)
        try checkReply(operation: "confirm.select on channel \(handle.number)", channel: record)
        record.confirming = true
        record.window = max(0, window)
    }

    /// Sends now if the window has room and the broker has not blocked publishing, else
    /// queues until confirms free the window or `connection.unblocked` arrives.
    /// `completion` runs once the broker confirmed (or at once without confirm mode).
    func publish(_ handle: ChannelHandle, _ message: OutgoingMessage, completion: @escaping PublishCompletion) {
        let record: ChannelRecord
        do throws(AMQPError) {
            record = try self.record(handle, "publish to '\(message.exchange)'")
        } catch {
            completion(.failure(error))
            return
        }
        if blockedReason == nil && record.hasRoom && record.waitingCount == 0 {
            send(record, message, completion: completion)
        } else {
            record.waiting.append((message, completion))
        }
    }

    private func send(_ record: ChannelRecord, _ message: OutgoingMessage, completion: @escaping PublishCompletion) {
        guard message.claimForWriting() else { return }  // its caller gave up: never sent
        let allocation = CAllocation()
        var properties = message.properties.cProperties(in: allocation)
        let exchange = allocation.bytes(message.exchange)
        let routingKey = allocation.bytes(message.routingKey)
        // The body goes to the socket straight from the caller's buffer: no copy.
        let status = message.body.withUnsafeBytes { raw in
            amqp_basic_publish(state, record.handle.number, exchange, routingKey, message.mandatory ? 1 : 0, 0, &properties,
                               amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
        withExtendedLifetime(allocation) {}
        do throws(AMQPError) {
            try checkStatus(status, operation: "publish to '\(message.exchange)' with key '\(message.routingKey)'")
        } catch {
            completion(.failure(error))
            return
        }
        guard record.confirming else {
            completion(.success(()))
            return
        }
        record.unconfirmed[record.nextTag] = ChannelRecord.Unconfirmed(message: message, completion: completion)
        record.nextTag += 1
    }

    /// Handles `basic.ack` / `basic.nack` (possibly `multiple`) from the broker.
    func confirm(_ record: ChannelRecord, tag: UInt64, multiple: Bool, acknowledged: Bool) {
        let first = multiple ? record.lowestTag : tag
        if first <= tag {
            for current in first...tag {
                guard let entry = record.unconfirmed.removeValue(forKey: current) else { continue }
                if let returned = entry.returned {
                    entry.completion(.failure(returned))
                } else if acknowledged {
                    entry.completion(.success(()))
                } else {
                    entry.completion(.failure(AMQPError(
                        .nacked, "broker nacked the message (queue full with reject-publish, or an internal error)",
                        operation: "publish to '\(entry.message.exchange)' with key '\(entry.message.routingKey)'")))
                }
            }
        }
        while record.lowestTag < record.nextTag && record.unconfirmed[record.lowestTag] == nil {
            record.lowestTag += 1
        }
        sendWaiting(record)
    }

    /// Sends queued publishes while the window has room and publishing is not blocked
    /// (one its caller gave up on is dropped unsent, in `send`).
    func sendWaiting(_ record: ChannelRecord) {
        while blockedReason == nil && record.hasRoom && record.waitingCount > 0 && isOpen
            && channels[record.handle.number] === record
        {
            let (message, completion) = record.waiting[record.waitingHead]
            record.waitingHead += 1
            send(record, message, completion: completion)
        }
        if record.waitingHead > 0 && record.waitingHead == record.waiting.count {
            record.waiting.removeAll(keepingCapacity: true)
            record.waitingHead = 0
        }
    }

    /// Marks the oldest unconfirmed mandatory publish with the same exchange,
    /// routing key and message id as returned; its ack then fails the publish.
    func markReturned(_ record: ChannelRecord, exchange: String, routingKey: String, messageId: String?, error: AMQPError) {
        guard record.lowestTag < record.nextTag else { return }
        for tag in record.lowestTag..<record.nextTag {
            guard let entry = record.unconfirmed[tag], entry.message.mandatory, entry.returned == nil,
                  entry.message.exchange == exchange, entry.message.routingKey == routingKey,
                  entry.message.properties.messageId == messageId
            else { continue }
            record.unconfirmed[tag]?.returned = error
            return
        }
    }
}
