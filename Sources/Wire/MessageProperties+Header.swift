extension MessageProperties {
    /// The properties a message with `header` is published with: operators see the update
    /// id, codec and model version in the management UI and in dead-letter queues without
    /// decoding the body, and routing can match the headers. Header values are strings
    /// (the spec hash as 16 hex digits, since AMQP has no unsigned 64-bit field type every
    /// client library maps the same way).
    public init(header: MessageHeader, persistent: Bool = true) {
        let hash = String(header.specHash, radix: 16)
        self.init(
            messageID: header.updateID.hex, contentType: header.kind.contentType,
            contentEncoding: header.codec.description, persistent: persistent,
            headers: [
                HeaderName.kind: .string("\(header.kind.rawValue)"),
                HeaderName.formatVersion: .string("\(Envelope.formatVersion)"),
                HeaderName.specHash: .string(String(repeating: "0", count: 16 - hash.count) + hash),
                HeaderName.modelVersion: .string("\(header.modelVersion)"),
                HeaderName.clientID: .string("\(header.clientID)"),
                HeaderName.parameterCount: .string("\(header.parameterCount)"),
            ])
    }
}
