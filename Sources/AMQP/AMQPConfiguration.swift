/// Everything needed to open a connection, usually parsed from a URL
/// (`amqp://user:pass@host:port/vhost?heartbeat=10`).
public struct AMQPConfiguration: Sendable, Equatable {
    /// TLS settings for `amqps://`, handed to `amqp_ssl_socket`.
    public struct TLS: Sendable, Equatable {
        /// PEM file with the CA certificates that sign the broker's certificate.
        public var caCertificatePath: String?
        /// PEM client certificate, for brokers that require mutual TLS.
        public var clientCertificatePath: String?
        /// PEM private key of the client certificate.
        public var clientKeyPath: String?
        /// Verify the broker's certificate chain and host name (`verify=verify_none` turns it off).
        public var verifyPeer: Bool = true

        public init(caCertificatePath: String? = nil, clientCertificatePath: String? = nil,
                    clientKeyPath: String? = nil, verifyPeer: Bool = true) {
            self.caCertificatePath = caCertificatePath
            self.clientCertificatePath = clientCertificatePath
            self.clientKeyPath = clientKeyPath
            self.verifyPeer = verifyPeer
        }
    }

    /// How the connection logs in (AMQP 0-9-1 SASL).
    public enum AuthMechanism: String, Sendable, Equatable, CaseIterable {
        /// User name and password (`amqp://user:pass@…`).
        case plain
        /// The TLS client certificate is the credential: RabbitMQ's `rabbitmq_auth_mechanism_ssl`
        /// takes the user name from it (e.g. its common name), so no password crosses the wire
        /// or sits in a URL, and a role's identity is the key only its host holds.
        case external
    }

    public var host: String = "127.0.0.1"
    public var port: Int = 5672
    public var virtualHost: String = "/"
    public var user: String = "guest"
    public var password: String = "guest"
    /// Heartbeat interval in seconds (0 disables); a dead peer is noticed after two missed beats.
    public var heartbeat: Int = 10
    /// Largest frame in bytes; large frames mean fewer frames for big model updates.
    public var frameMax: Int = 131_072
    /// Most channels this connection may open (0: the broker's limit).
    public var channelMax: Int = 2047
    /// Shown in the broker's management UI and `rabbitmqctl list_connections`.
    public var connectionName: String = "fedq"
    /// Seconds allowed for TCP/TLS connect and the AMQP handshake.
    public var connectTimeout: Double = 5
    /// Seconds allowed for any synchronous broker reply (declare, bind, …).
    public var rpcTimeout: Double = 30
    /// Present for `amqps://`.
    public var tls: TLS?
    /// `.external` needs `tls` with a client certificate (`auth_mechanism=external`).
    public var authMechanism: AuthMechanism = .plain

    public init() {}

    /// The URL without the password, for logs and errors. With EXTERNAL and no user name
    /// in the URL it names no user: the broker takes the user from the certificate.
    public var redactedURL: String {
        let scheme = tls == nil ? "amqp" : "amqps"
        let vhost = virtualHost == "/" ? "%2F" : virtualHost
        let userInfo = user.isEmpty ? "" : "\(user)@"
        return "\(scheme)://\(userInfo)\(host):\(port)/\(vhost)"
    }
}
