import Testing

@testable import Aggregation

/// The coordinator's count of each client's updates in the aggregate being filled.
struct FleetClientLimitTests {
    static func entry(_ client: UInt64?) -> PartialAggregate.Entry {
        PartialAggregate.Entry(id: .random(), baseVersion: 0, clientID: client)
    }

    @Test func theExcessIsWhatGoesBeyondTheShareCountingTheAggregateAndTheEarlierEntries() {
        var limit = FleetClientLimit(perAggregate: 2)
        let first = [7, 8, 7].map { Self.entry($0) }
        #expect(limit.excess(first).isEmpty)
        #expect(limit.largestCount == 0)
        limit.take(first)
        #expect(limit.count(of: 7) == 2 && limit.count(of: 8) == 1 && limit.largestCount == 2)
        // Client 7 has its two; 8 has room for one more, so its second entry here is excess.
        let second = [7, 8, 9, 8, 7].map { Self.entry($0) }
        let excess = limit.excess(second)
        #expect(excess.map(\.id) == [second[0].id, second[3].id, second[4].id])
        // Judging does not count: only `take` does.
        #expect(limit.count(of: 8) == 1)
    }

    @Test func entriesWithoutAClientAreNeverCountedAndAResetStartsEveryClientAgain() {
        var limit = FleetClientLimit(perAggregate: 1)
        let unknown = (0..<5).map { _ in Self.entry(nil) }
        #expect(limit.excess(unknown).isEmpty)
        limit.take(unknown + [Self.entry(3)])
        #expect(limit.count(of: 3) == 1)
        #expect(limit.excess([Self.entry(3)]).count == 1)
        #expect(limit.largestCount == 1)
        limit.reset()
        #expect(limit.count(of: 3) == 0 && limit.excess([Self.entry(3)]).isEmpty && limit.largestCount == 0)
    }
}
