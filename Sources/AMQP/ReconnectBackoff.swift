import Foundation

/// Bounded exponential backoff between reconnect attempts:
/// `initial · multiplier^(attempt-1)`, capped at `maximum`.
public struct ReconnectBackoff: Sendable, Equatable {
    public var initial: Duration
    public var multiplier: Double
    public var maximum: Duration
    /// Give up after this many failed attempts in a row (nil: never).
    public var maxAttempts: Int?

    public init(initial: Duration = .milliseconds(200), multiplier: Double = 2, maximum: Duration = .seconds(10),
                maxAttempts: Int? = 60) {
        self.initial = initial
        self.multiplier = max(1, multiplier)
        self.maximum = maximum
        self.maxAttempts = maxAttempts
    }

    /// The wait before attempt `attempt` (1-based) after a failure.
    public func delay(attempt: Int) -> Duration {
        let factor = Foundation.pow(multiplier, Double(max(0, attempt - 1)))
        let seconds = min(initial.seconds * factor, maximum.seconds)
        return .nanoseconds(Int64(seconds * 1e9))
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
