/// The decisions of the reconnecting layer, as a value type with no I/O so
/// it is tested without a broker: feed it events, perform the returned action.
public struct ReconnectStateMachine: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case idle
        /// Connecting; `attempt` counts consecutive failures plus one.
        case connecting(attempt: Int)
        /// Re-declaring topology and resuming consumers on a fresh connection.
        case restoring(attempt: Int)
        case connected
        /// Waiting before attempt `attempt`.
        case backingOff(attempt: Int)
        case failed(AMQPError)
        case stopped
    }

    public enum Action: Sendable, Equatable {
        /// Open a connection.
        case connect
        /// Re-declare the topology, re-open channels, resume consuming.
        case restore
        /// Sleep, then report `backoffElapsed()`.
        case wait(Duration)
        /// Stop retrying and surface this error.
        case giveUp(AMQPError)
        case none
    }

    public private(set) var state: State = .idle
    /// How many times a lost connection was re-established.
    public private(set) var reconnects = 0
    public let backoff: ReconnectBackoff
    private var hasConnectedBefore = false

    public init(backoff: ReconnectBackoff = ReconnectBackoff()) {
        self.backoff = backoff
    }

    public mutating func start() -> Action {
        guard case .idle = state else { return .none }
        state = .connecting(attempt: 1)
        return .connect
    }

    public mutating func connectSucceeded() -> Action {
        guard case .connecting(let attempt) = state else { return .none }
        state = .restoring(attempt: attempt)
        return .restore
    }

    public mutating func restoreSucceeded() -> Action {
        guard case .restoring = state else { return .none }
        if hasConnectedBefore { reconnects += 1 }
        hasConnectedBefore = true
        state = .connected
        return .none
    }

    /// Connecting or restoring failed.
    public mutating func attemptFailed(_ error: AMQPError) -> Action {
        switch state {
        case .connecting(let attempt), .restoring(let attempt):
            return retry(after: attempt, error)
        default:
            return .none
        }
    }

    /// An established connection was lost.
    public mutating func connectionLost(_ error: AMQPError) -> Action {
        guard case .connected = state else { return .none }
        return retry(after: 0, error)
    }

    public mutating func backoffElapsed() -> Action {
        guard case .backingOff(let attempt) = state else { return .none }
        state = .connecting(attempt: attempt)
        return .connect
    }

    public mutating func stop() -> Action {
        state = .stopped
        return .none
    }

    private mutating func retry(after failedAttempts: Int, _ error: AMQPError) -> Action {
        if error.isPermanent {
            state = .failed(error)
            return .giveUp(error)
        }
        if let limit = backoff.maxAttempts, failedAttempts >= limit {
            let exhausted = AMQPError(.reconnectExhausted, "gave up after \(failedAttempts) attempts; last error: \(error)",
                                      operation: error.operation)
            state = .failed(exhausted)
            return .giveUp(exhausted)
        }
        let next = failedAttempts + 1
        state = .backingOff(attempt: next)
        return .wait(backoff.delay(attempt: next))
    }
}
