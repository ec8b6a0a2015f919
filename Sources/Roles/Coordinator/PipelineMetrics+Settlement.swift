import FedCore

extension PipelineMetrics {
    /// Counts what the coordinator booked, once each, as it commits them: the
    /// counters then agree with `updates.csv` and `summary.json`.
    static func count(_ records: [SettlementRecord]) {
        var applied = 0
        for record in records {
            switch record.disposition {
            case .applied: applied += 1
            case .stale: updatesDroppedStale.increment()
            case .rejected: rejected(record.reason ?? .malformed).increment()
            }
        }
        if applied > 0 { updatesApplied.increment(by: applied) }
    }
}
