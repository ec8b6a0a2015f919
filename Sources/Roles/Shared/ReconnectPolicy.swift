import Messaging

/// The decisions of `RoleSupervisor`, as a value with no I/O, so they are tested without
/// a broker: feed it what happened (with the time), do what it answers.
///
/// A role reconnects after losing its connection and retries a failed connect with
/// exponential backoff (`initialDelay`, doubling, capped at `maximumDelay`), for as long as
/// `patience` since its last working connection. A refused login is never retried: a
/// wrong password does not fix itself.
public struct ReconnectPolicy: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        /// Wait this long, then try to connect again.
        case retry(after: Duration)
        /// Stop and surface the error.
        case giveUp
    }

    public var initialDelay: Duration
    public var maximumDelay: Duration
    /// How long to keep trying since the last working connection.
    public var patience: Duration

    /// The wait before the next failed attempt is retried.
    public private(set) var delay: Duration
    /// When the role last had a working connection (or started).
    public private(set) var lastHealthy: ContinuousClock.Instant
    /// Connections opened after the first one.
    public private(set) var reconnects = 0
    private var connectedBefore = false

    public init(
        patience: Duration, initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(5),
        now: ContinuousClock.Instant = .now
    ) {
        self.patience = patience
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        delay = initialDelay
        lastHealthy = now
    }

    /// A connect attempt failed with `error` at `now`.
    public mutating func connectFailed(_ error: TransportError, at now: ContinuousClock.Instant) -> Decision {
        if case .accessRefused = error { return .giveUp }
        guard now - lastHealthy < patience else { return .giveUp }
        let wait = delay
        delay = min(delay * 2, maximumDelay)
        return .retry(after: wait)
    }

    /// A connection opened; returns true when it replaces a lost one (a reconnect).
    public mutating func connected() -> Bool {
        delay = initialDelay
        defer { connectedBefore = true }
        if connectedBefore { reconnects += 1 }
        return connectedBefore
    }

    /// A session that had connected failed with a recoverable error (a lost connection, a
    /// cancelled consumer, a missing queue) after running since `started`: how long to wait
    /// before the next one. A session that ran for `stableAfter` or more starts again at once
    /// (what failed was a blip); one that fails straight away (its queue is still missing,
    /// and this identity may not declare it) backs off like a failed connect, so a role
    /// waiting for an administrator does not spin.
    public mutating func sessionFailed(
        started: ContinuousClock.Instant, at now: ContinuousClock.Instant, stableAfter: Duration = .seconds(10)
    ) -> Duration {
        lastHealthy = now
        guard now - started < stableAfter else {
            delay = initialDelay
            return .zero
        }
        let wait = delay
        delay = min(delay * 2, maximumDelay)
        return wait
    }
}
