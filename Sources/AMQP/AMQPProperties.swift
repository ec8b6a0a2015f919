import Foundation

/// The basic-class properties of a message that FedQueue uses.
public struct AMQPProperties: Sendable, Equatable {
    /// Transient messages live in memory only; persistent ones survive a broker restart.
    public enum DeliveryMode: UInt8, Sendable {
        case transient = 1
        case persistent = 2
    }

    public var messageId: String?
    public var contentType: String?
    public var contentEncoding: String?
    /// Second resolution on the wire.
    public var timestamp: Date?
    public var deliveryMode: DeliveryMode?
    public var headers: AMQPTable?
    public var correlationId: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as AMQP's string form.
    public var expiration: String?
    public var type: String?
    public var appId: String?
    public var priority: UInt8?

    public init(messageId: String? = nil, contentType: String? = nil, contentEncoding: String? = nil,
                timestamp: Date? = nil, deliveryMode: DeliveryMode? = nil, headers: AMQPTable? = nil,
                correlationId: String? = nil, replyTo: String? = nil, expiration: String? = nil,
                type: String? = nil, appId: String? = nil, priority: UInt8? = nil) {
        self.messageId = messageId
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.timestamp = timestamp
        self.deliveryMode = deliveryMode
        self.headers = headers
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.type = type
        self.appId = appId
        self.priority = priority
    }
}
