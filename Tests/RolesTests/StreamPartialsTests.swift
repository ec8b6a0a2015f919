@testable import Roles
import Aggregation
import Foundation
import Learning
import Privacy
import Testing
import Wire

/// The coordinator's rules for partials read off a stream updates path (each carries its
/// shard, claim and offsets), driven without a broker; and the ledger through the
/// checkpoint, so that a restarted coordinator judges redelivered partials as before.
@Suite struct StreamPartialsTests {
    let spec = try! ModelSpec.synthetic(parameters: 8)

    func machine(
        _ strategy: AggregationStrategy.Kind, state: CoordinatorState? = nil, privacy: DifferentialPrivacy? = nil
    ) -> CoordinatorStateMachine {
        let state =
            state
            ?? CoordinatorState(
                model: GlobalModel(version: 0, parameters: [Float](repeating: 0, count: spec.parameterCount), updatesApplied: 0),
                optimizer: ServerOptimizer(.sgd(learningRate: 1)), settledIDs: SettledIndex(stalenessHorizon: 8, refusalWindow: 64),
                strategy: strategy.description)
        return CoordinatorStateMachine(state: state, strategy: AggregationStrategy(strategy), privacy: privacy)
    }

    /// A partial of one update of constant `value` per offset of `first…last`, read under `claim`.
    func partial(_ value: Float, shard: UInt32 = 0, claim: UInt64 = 7, _ first: UInt64, _ last: UInt64) throws
        -> CoordinatorStateMachine.Input
    {
        var aggregate = PartialAggregate(dimension: spec.parameterCount)
        for _ in first...last {
            try aggregate.add(id: .random(), baseVersion: 0, weight: 1, delta: [Float](repeating: value, count: spec.parameterCount))
        }
        return .partial(aggregate, settled: [], range: .init(shard: shard, claim: claim, first: first, last: last))
    }

    /// A partial of one update of 0.1 from each of `clients`, read from the offsets starting at `first`.
    func partial(clients: [UInt64], from first: UInt64) throws -> CoordinatorStateMachine.Input {
        var aggregate = PartialAggregate(dimension: spec.parameterCount)
        for client in clients {
            try aggregate.add(id: .random(), baseVersion: 0, clientID: client, weight: 1, delta: [Float](repeating: 0.1, count: spec.parameterCount))
        }
        return .partial(
            aggregate, settled: [], range: .init(shard: 0, claim: 7, first: first, last: first + UInt64(clients.count) - 1))
    }

    /// A checkpoint store in a fresh directory, FedBuff of `bufferSize`, and DP settings
    /// whose budget these tests never reach.
    func privateRun(bufferSize: Int) throws -> (CoordinatorStore, AggregationStrategy.Kind, DifferentialPrivacy) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-streams-\(UUID().uuidString.prefix(8))").path
        return (
            try CoordinatorStore(directory: directory), .fedBuff(bufferSize: bufferSize),
            try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 100, population: 10)
        )
    }

    @Test func contiguousPartialsApplyAndTheRestAreDroppedWithoutBooking() throws {
        var machine = machine(.fedAsync(mixing: 1))
        _ = machine.claim(7, shard: 0)
        #expect(machine.receive(try partial(1, 0, 1)) == .apply(records: []))
        _ = try machine.applyBuffer()
        // The same range again (the worker's partial published twice): a copy, even though
        // its update ids are new to the coordinator, which only the offsets can tell.
        #expect(machine.receive(try partial(1, 0, 1)) == .acknowledge(records: []))
        // A partial read under a claim the shard no longer has.
        #expect(machine.receive(try partial(1, claim: 99, 2, 3)) == .acknowledge(records: []))
        // A hole: parked, nothing booked, the shard not moved, its reader sent back to 2.
        guard case .rewind(let answer, let detail) = machine.receive(try partial(1, 5, 6)) else {
            Issue.record("a partial after a hole was not refused")
            return
        }
        #expect(detail.contains("expected 2"))
        #expect(answer == StreamClaimMessage.Answer(shard: 0, claim: 7, from: .offset(2)))
        #expect(machine.receive(try partial(2, 2, 4)) == .apply(records: []))
        _ = try machine.applyBuffer()
        #expect(machine.state.model.version == 2 && machine.state.model.updatesApplied == 5)
        #expect(machine.state.accounting.applied == 5 && machine.state.accounting.rejectedTotal == 0)
        #expect(machine.state.streams.resumePoint(shard: 0) == .offset(5))
        #expect(!machine.state.streams.holdsPartials)
    }

    @Test func partialsWithoutARangeFollowTheQueueRules() throws {
        var machine = machine(.fedAsync(mixing: 1))
        var aggregate = PartialAggregate(dimension: spec.parameterCount)
        try aggregate.add(id: .random(), baseVersion: 0, weight: 1, delta: [Float](repeating: 1, count: spec.parameterCount))
        #expect(machine.receive(.partial(aggregate, settled: [])) == .apply(records: []))
        #expect(machine.state.streams.shards.isEmpty)
    }

    /// FedBuff holds two partials; a third, refused whole, is acknowledged at once and the
    /// state checkpointed with it. The coordinator dies before its buffer applies: the
    /// restarted one gets the two held partials again and must take them, not call them
    /// copies of what its checkpoint says the shard went through.
    @Test func heldPartialsSurviveACheckpointWrittenWhileTheyWereHeld() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-streams-\(UUID().uuidString.prefix(8))").path
        let store = try CoordinatorStore(directory: directory)
        let strategy = AggregationStrategy.Kind.fedBuff(bufferSize: 3)
        var first = machine(strategy)
        _ = first.claim(7, shard: 0)
        let held = [try partial(1, 0, 0), try partial(2, 1, 1)]
        for input in held { #expect(first.receive(input) == .hold(records: [])) }
        // Settled entries only (a worker refused the update at offset 2): booked and acknowledged.
        let refused = PartialAggregateSummary.Settled(updateID: .random(), baseVersion: 0, reason: .malformed)
        let settledOnly = CoordinatorStateMachine.Input.partial(
            PartialAggregate(dimension: spec.parameterCount), settled: [refused], range: .init(shard: 0, claim: 7, first: 2, last: 2))
        guard case .acknowledge(let records) = first.receive(settledOnly), records.count == 1 else {
            Issue.record("the settled-only partial was not booked and acknowledged")
            return
        }
        try store.commit(first.state, spec: spec, records: records)

        let restored = try #require(try store.load(spec: spec, strategy: strategy.description, stalenessHorizon: 8))
        #expect(restored.streams == first.state.streams)
        #expect(restored.streams.resumePoint(shard: 0) == .offset(3))
        var second = machine(strategy, state: restored)
        // The broker hands the two unacknowledged partials out again; the acknowledged one is gone.
        for input in held { #expect(second.receive(input) == .hold(records: [])) }
        #expect(second.receive(try partial(3, 3, 3)) == .apply(records: []))
        let applied = try #require(try second.applyBuffer())
        // (1 + 2 + 3) / 3: every update in once.
        #expect(applied.model.parameters == [Float](repeating: 2, count: spec.parameterCount))
        #expect(second.state.accounting.applied == 3 && second.state.accounting.rejectedTotal == 1)
        #expect(!second.state.streams.holdsPartials)
        // After the apply the held ranges are settled: another copy of one is dropped.
        #expect(second.receive(held[0]) == .acknowledge(records: []))
    }

    @Test func aQueueShardsCheckpointHasNoLedgerAndLoadsAnEmptyOne() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-streams-\(UUID().uuidString.prefix(8))").path
        let store = try CoordinatorStore(directory: directory)
        let state = machine(.fedAsync(mixing: 1)).state
        try store.commit(state, spec: spec, records: [])
        let bytes = try #require(FileManager.default.contents(atPath: store.checkpointPath))
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"streams\"") == false)
        let restored = try #require(try store.load(spec: spec, strategy: AggregationStrategy.Kind.fedAsync(mixing: 1).description, stalenessHorizon: 8))
        #expect(restored.streams == StreamLedger())
    }

    /// Under DP a stream partial repeating a client of the aggregate being filled waits for
    /// the next one, as a queue's does. The ledger has moved past its offsets, so applying
    /// the aggregate it waited beside must leave its range held: a coordinator killed before
    /// the partial's own aggregate gets it back from the broker and must take it, not call
    /// it a copy (its updates would be lost).
    @Test func aPostponedStreamPartialStaysHeldThroughTheApplyItWaitedOutAndACrash() throws {
        let (store, strategy, privacy) = try privateRun(bufferSize: 4)
        var first = machine(strategy, privacy: privacy)
        _ = first.claim(7, shard: 0)
        #expect(first.receive(try partial(clients: [1, 2], from: 0)) == .hold(records: []))
        let repeating = try partial(clients: [2], from: 2)
        #expect(first.receive(repeating) == .postpone(records: [], applyNow: false))
        #expect(first.receive(try partial(clients: [3, 4], from: 3)) == .apply(records: []))
        let applied = try #require(try first.applyBuffer())
        #expect(applied.model.updatesApplied == 4 && first.postponedPartials == 1)
        #expect(first.state.streams.shards[0]?.held == [StreamLedger.Held(claim: 7, first: 2, last: 2)])
        #expect(first.state.streams.resumePoint(shard: 0) == .offset(5))
        try store.commit(first.state, spec: spec, records: applied.records)

        // Killed here. The restarted coordinator gets the unacknowledged partial back and takes it.
        let restored = try #require(try store.load(spec: spec, strategy: strategy.description, stalenessHorizon: 8))
        var second = machine(strategy, state: restored, privacy: privacy)
        #expect(second.receive(repeating) == .hold(records: []))
        #expect(second.receive(try partial(clients: [5, 6], from: 5)) == .hold(records: []))
        #expect(second.receive(try partial(clients: [7], from: 7)) == .apply(records: []))
        #expect(try second.applyBuffer()?.model.updatesApplied == 8)
        #expect(!second.state.streams.holdsPartials && second.repeatedClientAggregates == 0)

        // Not killed: the coordinator offers it again after the apply, and it is taken once.
        #expect(first.receive(repeating) == .hold(records: []))
        #expect(first.receive(try partial(clients: [5, 6], from: 5)) == .hold(records: []))
        #expect(first.receive(try partial(clients: [7], from: 7)) == .apply(records: []))
        #expect(try first.applyBuffer()?.model.updatesApplied == 8)
        #expect(!first.state.streams.holdsPartials && first.repeatedClientAggregates == 0 && first.largestClientShare == 1)
        #expect(first.receive(repeating) == .acknowledge(records: []))
        #expect(first.state.accounting.applied == 8)
    }

    /// A restarted coordinator is given back what its predecessor held unacknowledged:
    /// buffered and postponed partials, together more than a buffer. When those that come
    /// back first fill a buffer and it is applied, the ones still on their way must stay
    /// held, or they arrive to a ledger that calls them copies. (CI lost 21 updates so,
    /// when an aggregate settled every held range.)
    @Test func partialsStillComingBackAfterARestartStayHeldThroughAnAggregate() throws {
        let (store, strategy, privacy) = try privateRun(bufferSize: 3)
        var first = machine(strategy, privacy: privacy)
        _ = first.claim(7, shard: 0)
        let held = [try partial(clients: [1], from: 0), try partial(clients: [2], from: 1), try partial(clients: [1], from: 2)]
        #expect(first.receive(held[0]) == .hold(records: []))
        #expect(first.receive(held[1]) == .hold(records: []))
        #expect(first.receive(held[2]) == .postpone(records: [], applyNow: false))
        try store.commit(first.state, spec: spec, records: [])

        // Killed. The third comes back last, after a new partial has filled the buffer.
        let restored = try #require(try store.load(spec: spec, strategy: strategy.description, stalenessHorizon: 8))
        var second = machine(strategy, state: restored, privacy: privacy)
        #expect(second.receive(held[0]) == .hold(records: []))
        #expect(second.receive(held[1]) == .hold(records: []))
        #expect(second.receive(try partial(clients: [3], from: 3)) == .apply(records: []))
        #expect(try second.applyBuffer()?.model.updatesApplied == 3)
        #expect(second.receive(held[2]) == .hold(records: []))
        #expect(second.receive(try partial(clients: [4, 5], from: 4)) == .apply(records: []))
        #expect(try second.applyBuffer()?.model.updatesApplied == 6)
        #expect(!second.state.streams.holdsPartials && second.state.accounting.applied == 6)
    }
}
