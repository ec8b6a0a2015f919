import AMQP
import FedCore
import Foundation
import Messaging

// The pipeline's transport vocabulary in the AMQP module's terms and back, so headers,
// arguments and RabbitMQ's own `x-death` tables read the same as on the embedded broker.

extension AMQPFieldValue {
    init(_ value: HeaderValue) {
        switch value {
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .int(value)
        case .double(let value): self = .double(value)
        case .string(let value): self = .string(value)
        case .bytes(let value): self = .bytes(value)
        case .timestamp(let value): self = .timestamp(value)
        case .array(let values): self = .array(values.map(AMQPFieldValue.init))
        case .table(let table): self = .table(table.mapValues(AMQPFieldValue.init))
        }
    }
}

extension HeaderValue {
    /// Nil for AMQP's void, which has no pipeline counterpart: a void entry reads as absent.
    init?(_ value: AMQPFieldValue) {
        switch value {
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .int(value)
        case .double(let value): self = .double(value)
        case .string(let value): self = .string(value)
        case .bytes(let value): self = .bytes(value)
        case .timestamp(let value): self = .timestamp(value)
        case .array(let values): self = .array(values.compactMap(HeaderValue.init))
        case .table(let table): self = .table(table.compactMapValues(HeaderValue.init))
        case .void: return nil
        }
    }
}

extension AMQPProperties {
    init(_ properties: MessageProperties) {
        self.init(
            messageId: properties.messageID, contentType: properties.contentType,
            contentEncoding: properties.contentEncoding, timestamp: properties.timestamp,
            deliveryMode: properties.persistent ? .persistent : .transient,
            headers: properties.headers.isEmpty ? nil : properties.headers.mapValues(AMQPFieldValue.init),
            correlationId: properties.correlationID, replyTo: properties.replyTo)
    }
}

extension MessageProperties {
    /// A message without a delivery mode is transient, as AMQP defines it.
    init(_ properties: AMQPProperties) {
        self.init(
            messageID: properties.messageId, contentType: properties.contentType,
            contentEncoding: properties.contentEncoding, correlationID: properties.correlationId,
            replyTo: properties.replyTo, timestamp: properties.timestamp,
            persistent: properties.deliveryMode == .persistent,
            headers: properties.headers?.compactMapValues(HeaderValue.init) ?? [:])
    }
}

extension AMQPExchange {
    init(_ exchange: ExchangeDeclaration) {
        let type: AMQPExchange.Kind =
            switch exchange.kind {
            case .direct: .direct
            case .fanout: .fanout
            }
        self.init(name: exchange.name, type: type, durable: exchange.durable, autoDelete: exchange.autoDelete)
    }
}

extension AMQPQueue {
    init(_ queue: QueueDeclaration) {
        self.init(
            name: queue.name, durable: queue.durable, exclusive: queue.exclusive, autoDelete: queue.autoDelete,
            arguments: queue.arguments.table.mapValues(AMQPFieldValue.init))
    }
}

extension QueueStatus {
    init(_ status: AMQPQueueStatus) {
        self.init(name: status.name, messageCount: status.messageCount, consumerCount: status.consumerCount)
    }
}

extension TransportError {
    /// Maps by reply code, keeping the broker's reply text. Publish outcomes (312 returns,
    /// nacks) need the message's exchange and key, so `AMQPTransport.publish` maps those.
    /// - Parameter closedLocally: the transport's own `close()` ended the connection.
    init(_ error: AMQPError, closedLocally: Bool) {
        switch error.code {
        case .notFound: self = .notFound(error.text)
        case .preconditionFailed: self = .preconditionFailed(error.text)
        case .accessRefused: self = .accessRefused(error.text)
        case .resourceLocked: self = .resourceLocked(error.text)
        case .encoding: self = .preconditionFailed(error.description)
        case _ where error.isConnectionLoss || error.code == .channelClosed:
            self = closedLocally ? .closed : .connectionLost(error.description)
        case _ where error.code.isBrokerReply:
            self = .broker(replyCode: UInt16(error.code.rawValue), replyText: error.text)
        default:
            self = .connectionLost(error.description)
        }
    }
}
