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
    /// Differential privacy's clip C: every accepted update is scaled down to L2 norm C
    /// before it enters the partial (nil: no clipping). Clipping here, not at the
    /// coordinator, means no unclipped update ever leaves a worker.
    public var clipNorm: Double?

    public init(
        flushUpdates: Int, flushInterval: Duration = .milliseconds(20), prefetch: Int = 32,
        staleness: StalenessPolicy, limits: DecodeLimits = .default, maxNorm: Float? = nil, clipNorm: Double? = nil
    ) {
        self.clipNorm = clipNorm
        self.flushUpdates = max(1, flushUpdates)
        self.flushInterval = flushInterval
        self.prefetch = max(prefetch, self.flushUpdates)
        self.staleness = staleness
        self.limits = limits
        self.maxNorm = maxNorm
    }
}
