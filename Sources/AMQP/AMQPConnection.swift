/// A connection to a RabbitMQ broker, running on a thread of its own.
///
/// Closing: call ``close()``, or drop the last reference (including the
/// channels, publishers and consumers made from it).
public final class AMQPConnection: Sendable {
    public let configuration: AMQPConfiguration
    let thread: ConnectionThread

    /// Opens a connection: TCP or TLS, login, tuning.
    /// - Throws: `AMQPError`: `.accessRefused` for a wrong user/password,
    ///   `.socketError`/`.timeout` for an unreachable broker, `.invalidURL`, …
    public init(configuration: AMQPConfiguration) async throws {
        self.configuration = configuration
        thread = try await ConnectionThread.start(configuration: configuration)
    }

    /// Parses `url` (see ``AMQPConfiguration/init(url:)``) and connects.
    public convenience init(url: String, connectionName: String = "fedq") async throws {
        var configuration = try AMQPConfiguration(url: url)
        configuration.connectionName = connectionName
        try await self.init(configuration: configuration)
    }

    deinit {
        thread.post { $0.close() }
    }

    /// False once the connection was closed or lost.
    public var isOpen: Bool { thread.isRunning }

    /// Why the connection ended (nil while open).
    public var closeReason: AMQPError? { thread.endReason }

    /// The broker's reason (e.g. "low on disk") while a memory or disk alarm pauses this
    /// connection's publishing; nil otherwise. Publishes wait meanwhile, without writing.
    public var blockedReason: String? { thread.blockedReason }

    public func openChannel() async throws -> AMQPChannel {
        let handle = try await thread.perform { session throws(AMQPError) in try session.openChannel() }
        return AMQPChannel(connection: self, handle: handle)
    }

    /// Opens a channel in confirm mode for publishing.
    /// - Parameter window: most unconfirmed messages in flight; more publishes wait.
    public func makePublisher(window: Int = 256) async throws -> AMQPPublisher {
        try await AMQPPublisher(channel: openChannel(), window: window)
    }

    /// Closes the connection; pending work fails with `.connectionClosed`. Returns once the
    /// connection's thread has freed the connection (socket and TLS state included).
    public func close() async {
        _ = try? await thread.perform { session throws(AMQPError) in session.close() }
        await thread.waitUntilFinished()
    }
}
