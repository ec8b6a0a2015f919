import Aggregation
import FedCore
import Synchronization

/// What the clients of this process published, counted as the broker confirms
/// each update. Only clients know it; the coordinator keeps the rest of the
/// books (applied, dropped stale, rejected), and a run's summary joins the two
/// to check that every published update was settled.
public final class PipelineLedger: Sendable {
    private let accounting = Mutex(AggregationAccounting())
    private let bytes = Mutex(0)

    public init() {}

    public func recordPublished(bytes count: Int) {
        accounting.withLock { $0.recordPublished() }
        bytes.withLock { $0 += count }
    }

    /// Books holding only the published count: merge them with the coordinator's.
    public var snapshot: AggregationAccounting { accounting.withLock { $0 } }
    public var bytesPublished: Int { bytes.withLock { $0 } }
}
