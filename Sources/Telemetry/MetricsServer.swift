import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Serves Prometheus text on `GET /metrics` (and `HEAD`), over HTTP/1.1 with keep-alive, on
/// swift-nio's event loops: every connection is its own channel, so an idle or slow scraper
/// never holds up another one.
public final class MetricsServer: Sendable {
    /// What the server listens on: one address the host name resolved to.
    public let localAddress: SocketAddress
    /// The host name or address it was asked to listen on (`localhost`, `::1`, `0.0.0.0`, …).
    public let host: String
    private let listener: any Channel
    private let connections: OpenConnections

    /// Whether it still accepts connections.
    var isListening: Bool { listener.isActive }

    /// The port listened on (the one picked when asked for port 0).
    public var port: Int { localAddress.port ?? 0 }

    /// Where to scrape: `http://HOST:PORT/metrics`, an IPv6 literal in brackets.
    public var url: String { "http://\(MetricsServerError.authority(host, port))/metrics" }

    private init(listener: any Channel, host: String, connections: OpenConnections) {
        self.listener = listener
        self.host = host
        self.connections = connections
        self.localAddress = listener.localAddress!
    }

    /// Listens on `host:port` (a host name is resolved; port 0 picks a free port: read `port`)
    /// and answers each scrape with what `exposition` returns then.
    /// - Throws: `MetricsServerError.bind` when the host does not resolve or the address cannot
    ///   be bound (in use, not an address of this machine, a privileged port).
    public static func start(
        host: String, port: Int, exposition: @escaping @Sendable () -> [UInt8]
    ) async throws(MetricsServerError) -> MetricsServer {
        let connections = OpenConnections()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    // A scraper that went away without closing its connection gives it back after five
                    // minutes idle, longer than usual scrape intervals (Prometheus keeps it alive).
                    try pipeline.addHandler(IdleStateHandler(allTimeout: .minutes(5)))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(MetricsRequestHandler(exposition: exposition))
                }
            }
        do {
            // NIO resolves the host (getaddrinfo) on this thread and binds its first address:
            // /etc/hosts or the container's DNS, once per process.
            let listener = try await bootstrap.bind(host: host, port: port).get()
            return MetricsServer(listener: listener, host: host, connections: connections)
        } catch {
            throw .bind(host: host, port: port, reason: MetricsServerError.reason(error))
        }
    }

    /// Stops listening and closes every open connection; returns at once.
    public func close() {
        listener.close(promise: nil)
        for connection in connections.closing() { connection.close(promise: nil) }
    }

    /// Stops listening, closes every open connection and waits until all are closed.
    public func shutdown() async {
        close()
        try? await listener.closeFuture.get()
        for connection in connections.closing() { try? await connection.closeFuture.get() }
    }
}

/// The server's open connections, so closing the server closes them too (closing a listening
/// channel leaves the channels it accepted open). One accepted after `closing()` is closed at once.
private final class OpenConnections: Sendable {
    private let state = Mutex<(channels: [ObjectIdentifier: any Channel], closed: Bool)>(([:], false))

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        let closed = state.withLock { state in
            if !state.closed { state.channels[key] = channel }
            return state.closed
        }
        guard !closed else { return channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in _ = self.state.withLock { $0.channels.removeValue(forKey: key) } }
    }

    /// The connections open now, to be closed; from now on, new ones are closed on arrival.
    func closing() -> [any Channel] {
        state.withLock { state in
            state.closed = true
            return Array(state.channels.values)
        }
    }
}

/// Why metrics could not be served, said in one line.
public enum MetricsServerError: Error, Equatable, CustomStringConvertible {
    case bind(host: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case .bind(let host, let port, let reason):
            "cannot serve metrics on \(Self.authority(host, port)): \(reason)"
        }
    }

    /// `host:port`, an IPv6 literal in brackets.
    static func authority(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The cause of a failed bind in words: the system's for an errno, else NIO's own.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as IOError: String(cString: strerror(error.errnoCode)).lowercased()
        case let error as SocketAddressError.UnknownHost: "cannot resolve the host name (\(error.errorDescription.lowercased()))"
        case is SocketAddressError: "cannot resolve the host name"
        default: "\(error)"
        }
    }
}
