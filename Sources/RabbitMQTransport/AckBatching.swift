/// How `fedq bench amqp`'s consumers acknowledge (both the wrapper's and the C loop's).
///
/// By default each delivery is acked at once, which is the cheapest a quorum queue can be
/// asked for. An aggregator worker cannot do that: it acks the updates of a partial, with
/// one `multiple` ack, only once the partial itself is confirmed (acking sooner could lose
/// them). `every: 64, delayMs: D` makes the plain loop ack the same way, so the broker's
/// cost of that discipline can be measured apart from the pipeline's own work
/// (BENCHMARKS.md, issue 21).
public struct AckBatching: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Deliveries per ack (a `multiple` ack when above 1).
    public let every: Int
    /// Milliseconds between a batch's last delivery and its ack.
    public let delayMs: Int

    /// Each delivery acked as it arrives.
    public static let eachAtOnce = AckBatching(uncheckedEvery: 1, delayMs: 0)

    /// - Throws: `AckBatchingError` when `every` is outside 1...`prefetch` (a consumer
    ///   holding `prefetch` unacked deliveries gets no more, and would never fill a larger
    ///   batch) or `delayMs` is negative.
    public init(every: Int, delayMs: Int, prefetch: Int) throws(AckBatchingError) {
        guard (1...max(1, prefetch)).contains(every) else { throw .batchOverPrefetch(every: every, prefetch: prefetch) }
        guard delayMs >= 0 else { throw .negativeDelay(delayMs) }
        self.init(uncheckedEvery: every, delayMs: delayMs)
    }

    private init(uncheckedEvery every: Int, delayMs: Int) {
        self.every = every
        self.delayMs = delayMs
    }

    /// Each delivery acked at once: no batching and no wait.
    public var acksEachAtOnce: Bool { every == 1 && delayMs == 0 }

    /// Whether delivery number `delivered` (counted from 1) of `total` is the last of its
    /// batch: every `every`-th one, and the very last, which closes a shorter batch.
    public func closesBatch(_ delivered: Int, of total: Int) -> Bool {
        delivered % every == 0 || delivered == total
    }

    public var description: String { acksEachAtOnce ? "each at once" : "\(every) at a time, \(delayMs) ms after the last" }
}

/// A bad `--ack-every` or `--ack-delay-ms`.
public enum AckBatchingError: Error, Equatable, CustomStringConvertible {
    case batchOverPrefetch(every: Int, prefetch: Int)
    case negativeDelay(Int)

    public var description: String {
        switch self {
        case .batchOverPrefetch(let every, let prefetch): "--ack-every must be in 1...--prefetch (\(prefetch)), got \(every)"
        case .negativeDelay(let delay): "--ack-delay-ms must not be negative, got \(delay)"
        }
    }
}
