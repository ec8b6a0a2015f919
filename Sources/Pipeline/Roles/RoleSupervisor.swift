import AMQP
import Foundation

/// Keeps a role running across broker restarts and network failures: connect,
/// run a session, and when the connection is lost close it, wait, and start a
/// new session on a new connection.
///
/// A session must be restartable from durable state alone: whatever it had not
/// committed is still unacknowledged at the broker and comes back (the
/// coordinator reloads its checkpoint, a worker starts empty, the fleet
/// republishes its unconfirmed updates first). A login the broker refuses is
/// not retried: a wrong password does not fix itself.
public struct RoleSupervisor: Sendable {
    public var role: String
    public var connect: @Sendable () async throws(TransportError) -> any Transport
    /// Give up after failing to connect for this long (since the last working connection).
    public var patience: Duration
    public var log: @Sendable (String) -> Void

    public init(
        role: String, patience: Duration = .seconds(300), log: @escaping @Sendable (String) -> Void,
        connect: @escaping @Sendable () async throws(TransportError) -> any Transport
    ) {
        self.role = role
        self.patience = patience
        self.log = log
        self.connect = connect
    }

    /// Runs `session` until it returns, throws something other than a lost connection,
    /// or the task is cancelled (a clean stop: returns normally).
    /// - Parameter session: given a fresh connection and how many times it reconnected.
    /// - Throws: `TransportError.accessRefused` at once, the last connection error once
    ///   `patience` ran out, or what the session threw.
    public func run(_ session: @Sendable (any Transport, _ reconnects: Int) async throws -> Void) async throws {
        var delay = Duration.milliseconds(250)
        var lastHealthy = ContinuousClock.now
        var reconnects = 0
        var connectedBefore = false
        while !Task.isCancelled {
            let transport: any Transport
            do {
                transport = try await connect()
            } catch {
                if case .accessRefused = error { throw error }
                guard ContinuousClock.now - lastHealthy < patience else { throw error }
                log("\(role): \(error); retrying in \(delay)")
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
                continue
            }
            if connectedBefore {
                reconnects += 1
                PipelineMetrics.reconnects(role).increment()
                log("\(role): reconnected")
            }
            connectedBefore = true
            delay = .milliseconds(250)
            do {
                try await session(transport, reconnects)
                await transport.close()
                return
            } catch where Task.isCancelled {
                await transport.close()
                return
            } catch where Self.isConnectionLoss(error) {
                await transport.close()
                lastHealthy = ContinuousClock.now
                log("\(role): \(error); reconnecting")
            } catch {
                await transport.close()
                throw error
            }
        }
    }

    /// Errors a new connection can cure.
    public static func isConnectionLoss(_ error: any Error) -> Bool {
        switch error {
        case let error as TransportError:
            switch error {
            case .connectionLost, .connectionFailed, .closed: true
            default: false
            }
        case let error as AMQPError: error.isConnectionLoss
        default: false
        }
    }
}
