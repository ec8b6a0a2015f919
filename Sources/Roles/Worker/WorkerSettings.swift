import Aggregation
import FedCore
import Wire

/// Settings of an aggregator worker.
public struct WorkerSettings: Sendable {
    /// Flush a partial once it holds this many updates…
    public var flushUpdates: Int
    /// …or once its oldest update waited this long.
    public var flushInterval: Duration
    /// Unacknowledged updates the broker may hand this worker at once.
    public var prefetch: Int
    public var staleness: StalenessPolicy
    public var limits: DecodeLimits
    /// Refuse updates whose L2 norm exceeds this (nil: no bound): one client's
    /// exploding or malicious update must not wreck the global model.
    public var maxNorm: Float?

    public init(
        flushUpdates: Int, flushInterval: Duration = .milliseconds(20), prefetch: Int = 32,
        staleness: StalenessPolicy, limits: DecodeLimits = .default, maxNorm: Float? = nil
    ) {
        self.flushUpdates = max(1, flushUpdates)
        self.flushInterval = flushInterval
        self.prefetch = max(prefetch, self.flushUpdates)
        self.staleness = staleness
        self.limits = limits
        self.maxNorm = maxNorm
    }
}
