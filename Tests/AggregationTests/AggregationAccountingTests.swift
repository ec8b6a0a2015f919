import Foundation
import Testing

@testable import Aggregation

struct AggregationAccountingTests {
    @Test func everyPublishedUpdateIsSettledOrInFlight() {
        var ledger = AggregationAccounting()
        ledger.recordPublished(10)
        ledger.recordApplied(
            AppliedAggregate(
                entries: [
                    .init(id: .random(), baseVersion: 5), .init(id: .random(), baseVersion: 3),
                    .init(id: .random(), baseVersion: 5),
                ], weightTotal: 3),
            at: 5)
        ledger.recordApplied(staleness: 100)
        ledger.recordDroppedStale(2)
        ledger.recordRejected(.nonFinite)
        ledger.recordRejected(.malformed, count: 2)
        #expect(ledger.applied == 4)
        #expect(ledger.rejectedTotal == 3)
        #expect(ledger.settled == 9)
        #expect(ledger.inFlight == 1)
        #expect(ledger.meanStaleness == 102.0 / 4)  // τ = 0, 2, 0, 100
        #expect(ledger.stalenessHistogram.count == AggregationAccounting.histogramBuckets)
        #expect(ledger.stalenessHistogram[0] == 2)
        #expect(ledger.stalenessHistogram[2] == 1)
        #expect(ledger.stalenessHistogram[AggregationAccounting.histogramBuckets - 1] == 1)
    }

    @Test func ledgersMergeByAdding() throws {
        var worker = AggregationAccounting()
        worker.recordDroppedStale(3)
        worker.recordRejected(.wrongModel)
        var coordinator = AggregationAccounting()
        coordinator.recordPublished(9)
        coordinator.recordApplied(staleness: 1)
        coordinator.recordRejected(.wrongModel)
        coordinator.merge(worker)
        #expect(coordinator.droppedStale == 3)
        #expect(coordinator.rejected == [.wrongModel: 2])
        #expect(coordinator.stalenessHistogram == [0, 1])
        #expect(coordinator.inFlight == 9 - 6)
        let json = try JSONEncoder().encode(coordinator)
        #expect(String(decoding: json, as: UTF8.self).contains("\"wrong-model\":2"))
        #expect(try JSONDecoder().decode(AggregationAccounting.self, from: json) == coordinator)
    }
}
