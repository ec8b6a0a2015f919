import Foundation

/// The AMQP basic properties FedQueue sets on its messages, as plain values: every
/// transport (RabbitMQ, the embedded broker) maps them onto its own, so nothing above the
/// transport adapters knows AMQP's types.
public struct MessageProperties: Sendable, Hashable {
    /// Header names: the wire contract with other clients and the topology definitions.
    public enum HeaderName {
        public static let kind = "x-fedq-kind"
        public static let formatVersion = "x-fedq-format-version"
        public static let specHash = "x-fedq-spec-hash"
        public static let modelVersion = "x-fedq-model-version"
        public static let clientID = "x-fedq-client-id"
        public static let parameterCount = "x-fedq-parameter-count"
        /// Set by whoever dead-letters a message: a ``RejectionReason``'s name.
        public static let rejectReason = "x-fedq-reason"
        /// Beside the reason: which check refused it (e.g. `checksum-mismatch`), for operators.
        public static let rejectDetail = "x-fedq-detail"
        /// On a model version: how many client updates it contains.
        public static let updatesApplied = "x-fedq-updates-applied"
        /// On a model version of a differentially private run: the ε spent so far (decimal).
        public static let privacyEpsilon = "x-fedq-dp-epsilon"
        /// On the last model version of a run (a private run's average, released when its
        /// budget ran out): `1`. No version follows it, and clients stop training.
        public static let finalVersion = "x-fedq-final"
        /// On a client update: the issuer's credential for the client's key (117 bytes, docs/signing.md).
        public static let credential = "x-fedq-credential"
        /// On a client update, a model version or a version notice: the 64-byte Ed25519
        /// signature (by the client's or the coordinator's key) of what docs/wire-format.md says.
        public static let signature = "x-fedq-signature"
        /// On a version notice whose body is the coordinator's revocation list: the list's
        /// serial (an integer, newer lists larger).
        public static let revocationsSerial = "x-fedq-revocations-serial"
        /// Beside it: the coordinator's Ed25519 signature of the list and its serial.
        public static let revocationsSignature = "x-fedq-revocations-signature"
        /// On a partial from a queue-shard worker: 16 bytes, the worker's instance and the
        /// partial's sequence number (big-endian `UInt64` each), where a refused partial's new
        /// updates can be asked back (`PartialReturn`, docs/wire-format.md).
        public static let returnAddress = "x-fedq-return-to"
        /// On a version notice: the return addresses of partials whose new updates the
        /// coordinator asks back, 16 bytes each (docs/wire-format.md, "Version notices").
        public static let returnRequests = "x-fedq-returns"
    }

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
