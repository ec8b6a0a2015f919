import CRabbitMQ
import Foundation

extension AMQPProperties {
    /// Builds `amqp_basic_properties_t`; its memory belongs to `allocation`.
    func cProperties(in allocation: CAllocation) -> amqp_basic_properties_t {
        var properties = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: WritableKeyPath<amqp_basic_properties_t, amqp_bytes_t>) {
            guard let value else { return }
            properties[keyPath: field] = allocation.bytes(value)
            flags |= UInt32(flag)
        }
        set(contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, \.content_type)
        set(contentEncoding, AMQP_BASIC_CONTENT_ENCODING_FLAG, \.content_encoding)
        set(messageId, AMQP_BASIC_MESSAGE_ID_FLAG, \.message_id)
        set(correlationId, AMQP_BASIC_CORRELATION_ID_FLAG, \.correlation_id)
        set(replyTo, AMQP_BASIC_REPLY_TO_FLAG, \.reply_to)
        set(expiration, AMQP_BASIC_EXPIRATION_FLAG, \.expiration)
        set(type, AMQP_BASIC_TYPE_FLAG, \.type)
        set(appId, AMQP_BASIC_APP_ID_FLAG, \.app_id)
        if let headers {
            properties.headers = allocation.table(headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        if let deliveryMode {
            properties.delivery_mode = deliveryMode.rawValue
            flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        }
        if let priority {
            properties.priority = priority
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
        }
        if let timestamp {
            properties.timestamp = UInt64(max(0, timestamp.timeIntervalSince1970.rounded(.down)))
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        properties._flags = flags
        return properties
    }

    /// Copies decoded C properties into Swift.
    init(_ properties: amqp_basic_properties_t) {
        self.init()
        let flags = properties._flags
        func get(_ flag: Int32, _ bytes: amqp_bytes_t) -> String? {
            flags & UInt32(flag) != 0 ? String(amqpBytes: bytes) : nil
        }
        contentType = get(AMQP_BASIC_CONTENT_TYPE_FLAG, properties.content_type)
        contentEncoding = get(AMQP_BASIC_CONTENT_ENCODING_FLAG, properties.content_encoding)
        messageId = get(AMQP_BASIC_MESSAGE_ID_FLAG, properties.message_id)
        correlationId = get(AMQP_BASIC_CORRELATION_ID_FLAG, properties.correlation_id)
        replyTo = get(AMQP_BASIC_REPLY_TO_FLAG, properties.reply_to)
        expiration = get(AMQP_BASIC_EXPIRATION_FLAG, properties.expiration)
        type = get(AMQP_BASIC_TYPE_FLAG, properties.type)
        appId = get(AMQP_BASIC_APP_ID_FLAG, properties.app_id)
        if flags & UInt32(AMQP_BASIC_HEADERS_FLAG) != 0 { headers = AMQPTable(properties.headers) }
        if flags & UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 { deliveryMode = DeliveryMode(rawValue: properties.delivery_mode) }
        if flags & UInt32(AMQP_BASIC_PRIORITY_FLAG) != 0 { priority = properties.priority }
        if flags & UInt32(AMQP_BASIC_TIMESTAMP_FLAG) != 0 {
            timestamp = Date(timeIntervalSince1970: Double(properties.timestamp))
        }
    }
}
