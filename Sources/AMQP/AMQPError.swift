/// Every failure of the AMQP layer: the broker's reply code and text, a
/// librabbitmq status with its own description, or a local misuse.
///
/// Callers match on ``code`` with the static members (`.notFound`,
/// `.preconditionFailed`, …) so they never import the C module.
public struct AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Broker reply codes are positive (AMQP 0-9-1 §1.9), librabbitmq statuses
    /// are negative (`amqp_status_enum`), FedQueue's own codes are ≥ 10 000.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(_ rawValue: Int32) { self.rawValue = rawValue }

        // Broker replies.
        public static let contentTooLarge = Code(311)
        public static let noRoute = Code(312)
        public static let noConsumers = Code(313)
        public static let connectionForced = Code(320)
        public static let invalidPath = Code(402)
        public static let accessRefused = Code(403)
        public static let notFound = Code(404)
        public static let resourceLocked = Code(405)
        public static let preconditionFailed = Code(406)
        public static let frameError = Code(501)
        public static let syntaxError = Code(502)
        public static let commandInvalid = Code(503)
        public static let channelError = Code(504)
        public static let unexpectedFrame = Code(505)
        public static let resourceError = Code(506)
        public static let notAllowed = Code(530)
        public static let notImplemented = Code(540)
        public static let internalError = Code(541)

        // librabbitmq statuses (amqp_status_enum).
        public static let hostnameResolutionFailed = Code(-0x0005)
        public static let connectionClosed = Code(-0x0007)
        public static let socketError = Code(-0x0009)
        public static let timeout = Code(-0x000D)
        public static let heartbeatTimeout = Code(-0x000F)
        public static let socketClosed = Code(-0x0011)
        /// The broker does not offer the SASL mechanism asked for (e.g. EXTERNAL without
        /// `rabbitmq_auth_mechanism_ssl`).
        public static let unsupportedSASLMethod = Code(-0x0013)
        public static let tcpError = Code(-0x0100)
        public static let sslError = Code(-0x0200)
        /// The broker's certificate does not name the host connected to.
        public static let sslHostnameVerifyFailed = Code(-0x0201)
        /// The broker's certificate does not chain to a trusted CA (or is expired, …).
        public static let sslPeerVerifyFailed = Code(-0x0202)
        /// The TLS handshake itself failed (an alert, a plain-AMQP port, a closed socket).
        public static let sslConnectionFailed = Code(-0x0203)

        // FedQueue's own.
        /// The URL could not be parsed.
        public static let invalidURL = Code(10_001)
        /// The broker negatively acknowledged a published message.
        public static let nacked = Code(10_002)
        /// The channel was closed earlier (by the broker or by us).
        public static let channelClosed = Code(10_003)
        /// A topology definitions file could not be read or is not valid.
        public static let invalidDefinitions = Code(10_004)
        /// Reconnecting gave up after the configured number of attempts.
        public static let reconnectExhausted = Code(10_005)
        /// A value could not be encoded for the wire (e.g. a table too big).
        public static let encoding = Code(10_006)

        public var isBrokerReply: Bool { rawValue > 0 && rawValue < 1000 }
        public var isLibraryStatus: Bool { rawValue < 0 }

        public var description: String {
            switch self {
            case .contentTooLarge: "311 CONTENT_TOO_LARGE"
            case .noRoute: "312 NO_ROUTE"
            case .noConsumers: "313 NO_CONSUMERS"
            case .connectionForced: "320 CONNECTION_FORCED"
            case .invalidPath: "402 INVALID_PATH"
            case .accessRefused: "403 ACCESS_REFUSED"
            case .notFound: "404 NOT_FOUND"
            case .resourceLocked: "405 RESOURCE_LOCKED"
            case .preconditionFailed: "406 PRECONDITION_FAILED"
            case .frameError: "501 FRAME_ERROR"
            case .syntaxError: "502 SYNTAX_ERROR"
            case .commandInvalid: "503 COMMAND_INVALID"
            case .channelError: "504 CHANNEL_ERROR"
            case .unexpectedFrame: "505 UNEXPECTED_FRAME"
            case .resourceError: "506 RESOURCE_ERROR"
            case .notAllowed: "530 NOT_ALLOWED"
            case .notImplemented: "540 NOT_IMPLEMENTED"
            case .internalError: "541 INTERNAL_ERROR"
            case .unsupportedSASLMethod: "SASL mechanism not offered"
            case .sslError: "TLS error"
            case .sslHostnameVerifyFailed, .sslPeerVerifyFailed, .sslConnectionFailed: "TLS handshake failed"
            case .invalidURL: "invalid URL"
            case .nacked: "nacked"
            case .channelClosed: "channel closed"
            case .invalidDefinitions: "invalid definitions"
            case .reconnectExhausted: "reconnect attempts exhausted"
            case .encoding: "encoding"
            default: isLibraryStatus ? "librabbitmq status \(rawValue)" : "code \(rawValue)"
            }
        }
    }

    /// What failed.
    public var code: Code
    /// The broker's reply text, librabbitmq's status string, or our own explanation.
    public var text: String
    /// The operation that failed, e.g. `queue.declare fedq.updates`.
    public var operation: String

    public init(_ code: Code, _ text: String, operation: String) {
        self.code = code
        self.text = text
        self.operation = operation
    }

    public var description: String { "\(operation): \(code): \(text)" }

    /// Whether the connection as a whole is gone (socket, heartbeat, broker
    /// shutdown): the reconnecting layer retries these, never channel errors.
    public var isConnectionLoss: Bool {
        switch code {
        case .connectionClosed, .socketError, .socketClosed, .heartbeatTimeout, .timeout, .tcpError, .sslError,
            .sslConnectionFailed, .connectionForced, .internalError, .frameError, .unexpectedFrame, .hostnameResolutionFailed:
            true
        default:
            false
        }
    }

    /// Errors that no retry can fix: wrong credentials, bad URL, mismatched topology, a
    /// broker certificate that does not verify, a SASL mechanism the broker does not offer.
    public var isPermanent: Bool {
        switch code {
        case .accessRefused, .invalidURL, .invalidPath, .preconditionFailed, .invalidDefinitions, .notAllowed,
            .sslHostnameVerifyFailed, .sslPeerVerifyFailed, .unsupportedSASLMethod:
            true
        default: false
        }
    }
}
