import Foundation

/// The AMQP basic properties the pipeline sets on its messages.
public struct MessageProperties: Sendable, Hashable {
    /// The update's or model version's id: consumers deduplicate on it.
    public var messageID: String?
    /// e.g. `application/x-fedq-update`.
    public var contentType: String?
    /// The codec, e.g. `int8` or `topk:0.01+int8`.
    public var contentEncoding: String?
    /// For request/reply: the reply's correlation with its request.
    public var correlationID: String?
    /// For request/reply: the queue to answer on.
    public var replyTo: String?
    /// Publishing time; AMQP keeps whole seconds.
    public var timestamp: Date?
    /// Delivery mode 2: written to disk by a durable queue.
    public var persistent: Bool
    public var headers: [String: HeaderValue]

    public init(
        messageID: String? = nil, contentType: String? = nil, contentEncoding: String? = nil,
        correlationID: String? = nil, replyTo: String? = nil, timestamp: Date? = nil,
        persistent: Bool = true, headers: [String: HeaderValue] = [:]
    ) {
        self.messageID = messageID
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.timestamp = timestamp
        self.persistent = persistent
        self.headers = headers
    }
}
