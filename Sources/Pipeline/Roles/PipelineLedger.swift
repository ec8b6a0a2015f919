import Aggregation
import Synchronization
import Wire

/// The run's accounting, shared by the roles of one process: every update
/// published ends up counted exactly once as applied, dropped stale or
/// rejected, and the summary checks that sum.
public final class PipelineLedger: Sendable {
    private let accounting = Mutex(AggregationAccounting())
    private let bytes = Mutex(0)

    public init() {}

    public func record(_ change: (inout AggregationAccounting) -> Void) {
        accounting.withLock { change(&$0) }
    }

    public func recordPublished(bytes count: Int) {
        accounting.withLock { $0.recordPublished() }
        bytes.withLock { $0 += count }
    }

    public var snapshot: AggregationAccounting { accounting.withLock { $0 } }
    public var bytesPublished: Int { bytes.withLock { $0 } }
}
