/// The AMQP basic properties a message is published with, as plain values: the pipeline maps
/// them onto its transport, so Wire never imports AMQP.
///
/// Operators see the update id, codec and model version in the management UI and in dead-letter
/// queues without decoding the body; routing can match the headers.
public struct MessageProperties: Hashable, Sendable {
    /// Header names, shared with the pipeline and the topology definitions.
    public enum HeaderName {
        public static let kind = "x-fedq-kind"
        public static let formatVersion = "x-fedq-format-version"
        public static let specHash = "x-fedq-spec-hash"
        public static let modelVersion = "x-fedq-model-version"
        public static let clientID = "x-fedq-client-id"
        public static let parameterCount = "x-fedq-parameter-count"
        /// Set by whoever dead-letters a message: ``WireError/reasonCode`` or a pipeline reason.
        public static let rejectReason = "x-fedq-reason"
    }

    /// The update id as 32 hex digits: lets the broker and operators dedupe and trace.
    public var messageID: String
    /// `application/x-fedq-update`, `-partial` or `-model`.
    public var contentType: String
    /// The codec spec string, e.g. `topk:0.01+int8`.
    public var contentEncoding: String
    /// Header table values: strings and unsigned integers (the spec hash as 16 hex digits, since
    /// AMQP has no unsigned 64-bit field type every client library maps the same way).
    public var headers: [String: String]

    public init(messageID: String, contentType: String, contentEncoding: String, headers: [String: String]) {
        self.messageID = messageID
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
    }

    /// The properties a message with `header` is published with.
    public init(header: MessageHeader) {
        let hash = String(header.specHash, radix: 16)
        self.init(
            messageID: header.updateID.hex, contentType: header.kind.contentType,
            contentEncoding: header.codec.description,
            headers: [
                HeaderName.kind: "\(header.kind.rawValue)",
                HeaderName.formatVersion: "\(Envelope.formatVersion)",
                HeaderName.specHash: String(repeating: "0", count: 16 - hash.count) + hash,
                HeaderName.modelVersion: "\(header.modelVersion)",
                HeaderName.clientID: "\(header.clientID)",
                HeaderName.parameterCount: "\(header.parameterCount)",
            ])
    }
}
