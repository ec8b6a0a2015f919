import FedCore

/// How a role gets a connection to its broker, without knowing which broker it is:
/// the embedded one in this process, or RabbitMQ (built by the RabbitMQTransport
/// module's factory from a URL). Roles, the simulator and the load test take one of
/// these; only the factory knows the adapters.
public struct TransportConnector: Sendable, CustomStringConvertible {
    /// Opens a new connection (each role session, publisher or consumer opens its own).
    public let connect: @Sendable () async throws(TransportError) -> any Transport
    /// Where it connects, with any password removed: safe to print and log.
    public let description: String
    /// True for the in-process broker: nothing outside this process can reach it.
    public let isEmbedded: Bool
    private let shutdown: @Sendable () async -> Void

    public init(
        description: String, isEmbedded: Bool = false,
        shutdown: @escaping @Sendable () async -> Void = {},
        connect: @escaping @Sendable () async throws(TransportError) -> any Transport
    ) {
        self.description = description
        self.isEmbedded = isEmbedded
        self.shutdown = shutdown
        self.connect = connect
    }

    /// Connections to one in-process broker.
    public static func embedded(_ broker: EmbeddedBroker = EmbeddedBroker()) -> TransportConnector {
        TransportConnector(description: "the embedded broker", isEmbedded: true, shutdown: { await broker.close() }) {
            () throws(TransportError) in broker.connect()
        }
    }

    /// Stops what the connector owns (the embedded broker); RabbitMQ needs nothing.
    public func close() async { await shutdown() }
}
