import Foundation
import Logging
import Messaging
import Roles
import ServiceLifecycle
import Synchronization

/// What every long-running command shares: swift-log loggers on stderr (stdout stays for
/// a command's results), a supervisor that reconnects, and a graceful stop on SIGTERM or
/// SIGINT through swift-service-lifecycle's `ServiceGroup`.
public enum RoleRuntime {
    private static let bootstrapped = Mutex(false)

    /// Sets up logging once per process: stderr, at `level` (`--log-level`, `FEDQ_LOG_LEVEL`).
    /// Later calls only change nothing: swift-log allows one bootstrap per process.
    public static func bootstrapLogging(level: String) {
        let level = Logger.Level(rawValue: level) ?? .info
        bootstrapped.withLock { done in
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }

    /// The logger of one role, with the role in its metadata (`role=worker`).
    public static func logger(role: String) -> Logger {
        var logger = Logger(label: "fedq")
        logger[metadataKey: "role"] = "\(role)"
        return logger
    }

    /// A supervisor that connects through `connector`, logging as `role`.
    public static func supervisor(role: String, connector: TransportConnector, patience: Duration, logger: Logger) -> RoleSupervisor {
        logger.info("broker \(connector)")
        return RoleSupervisor(role: role, patience: patience, logger: logger, connect: connector.connect)
    }

    /// Runs `body` as the one service of a `ServiceGroup` until it returns, or until
    /// SIGTERM or SIGINT asks for a graceful shutdown: then `body`'s task is cancelled and
    /// awaited, so outputs are final (and the exit status 0) when the process exits. A
    /// second signal while winding down is left to the group (it logs and carries on).
    /// - Parameter onGracefulShutdown: when given, a signal calls it instead of cancelling
    ///   `body`, for work that winds down by itself and still has results to write
    ///   (`fedq simulate`).
    public static func runUntilSignalled(
        logger: Logger, onGracefulShutdown: (@Sendable () -> Void)? = nil, _ body: @escaping @Sendable () async throws -> Void
    ) async throws {
        let service = RoleService(body: body, onGracefulShutdown: onGracefulShutdown)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "fedq")],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

/// A command's work as a service: cancelled when the group shuts down gracefully, or
/// told so by `onGracefulShutdown` when it has one.
struct RoleService: Service {
    let body: @Sendable () async throws -> Void
    let onGracefulShutdown: (@Sendable () -> Void)?

    func run() async throws {
        if let onGracefulShutdown {
            try await withGracefulShutdownHandler(operation: body, onGracefulShutdown: onGracefulShutdown)
        } else {
            try await cancelWhenGracefulShutdown { try await body() }
        }
    }
}

/// Appends lines to a file (creating it with `header` when new), one write per line,
/// so a reader, or a crash, sees whole lines.
public final class LineLog: Sendable {
    private let handle: Mutex<FileHandle>

    public init(path: String, header: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            try Data((header + "\n").utf8).write(to: url)
        }
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        self.handle = Mutex(handle)
    }

    public func append(_ line: String) {
        handle.withLock { $0.write(Data((line + "\n").utf8)) }
    }
}

/// A value several tasks read and one replaces (the current session's role object).
public final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    public init(_ value: Value) { self.value = Mutex(value) }

    public var current: Value {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
