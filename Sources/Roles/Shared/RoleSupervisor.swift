import Foundation
import Logging
import Messaging

/// Keeps a role running across broker restarts and network failures: connect,
/// run a session, and when the connection is lost close it, wait, and start a
/// new session on a new connection. When to retry is `ReconnectPolicy`'s decision.
///
/// A session must be restartable from durable state alone: whatever it had not
/// committed is still unacknowledged at the broker and comes back (the
/// coordinator reloads its checkpoint, a worker starts empty, the fleet
/// republishes its unconfirmed updates first).
public struct RoleSupervisor: Sendable {
    public var role: String
    public var connect: @Sendable () async throws(TransportError) -> any Transport
    /// Give up after failing to connect for this long (since the last working connection).
    public var patience: Duration
    public var logger: Logger

    public init(
        role: String, patience: Duration = .seconds(300), logger: Logger,
        connect: @escaping @Sendable () async throws(TransportError) -> any Transport
    ) {
        self.role = role
        self.patience = patience
        self.logger = logger
        self.connect = connect
    }

    /// Runs `session` until it returns, throws something other than a lost connection,
    /// or the task is cancelled (a clean stop: returns normally).
    /// - Parameter session: given a fresh connection and how many times it reconnected.
    /// - Throws: `TransportError.accessRefused` at once, the last connection error once
    ///   `patience` ran out, or what the session threw.
    public func run(_ session: @Sendable (any Transport, _ reconnects: Int) async throws -> Void) async throws {
        var policy = ReconnectPolicy(patience: patience)
        while !Task.isCancelled {
            let transport: any Transport
            do {
                transport = try await connect()
            } catch {
                if Task.isCancelled { return }
                switch policy.connectFailed(error, at: .now) {
                case .giveUp: throw error
                case .retry(let delay):
                    logger.warning("\(error); retrying in \(delay)")
                    try? await Task.sleep(for: delay)
                    continue
                }
            }
            if policy.connected() {
                PipelineMetrics.reconnects(role).increment()
                logger.notice("reconnected")
            }
            let started = ContinuousClock.now
            do {
                try await session(transport, policy.reconnects)
                await transport.close()
                return
            } catch where Task.isCancelled {
                await transport.close()
                return
            } catch where Self.isRecoverable(error) {
                await transport.close()
                let wait = policy.sessionFailed(started: started, at: .now)
                logger.warning("\(error); starting a new session\(wait > .zero ? " in \(wait)" : "")")
                if wait > .zero { try? await Task.sleep(for: wait) }
            } catch {
                await transport.close()
                throw error
            }
        }
    }

    /// Errors a new session can cure (`TransportError.isRecoverable`: a lost connection, a
    /// consumer the broker cancelled, a deleted exchange or queue). Every transport maps its
    /// own errors onto `TransportError`, so this needs to know no broker's error type.
    public static func isRecoverable(_ error: any Error) -> Bool {
        guard let error = error as? TransportError else { return false }
        return error.isRecoverable
    }
}
