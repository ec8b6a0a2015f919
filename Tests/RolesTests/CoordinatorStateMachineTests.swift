@testable import Roles
import Aggregation
import Foundation
import Learning
import Testing
import Wire

/// The coordinator's rules, driven without a broker: partials in, actions out.
@Suite struct CoordinatorStateMachineTests {
    let spec = try! ModelSpec.synthetic(parameters: 8)

    func machine(_ strategy: AggregationStrategy.Kind, window: Int = 64, horizon: Int = 8) -> CoordinatorStateMachine {
        let state = CoordinatorState(
            model: GlobalModel(version: 0, parameters: [Float](repeating: 0, count: spec.parameterCount), updatesApplied: 0),
            optimizer: ServerOptimizer(.sgd(learningRate: 1)), settledIDs: SettledIndex(stalenessHorizon: horizon, refusalWindow: window),
            strategy: strategy.description)
        return CoordinatorStateMachine(state: state, strategy: AggregationStrategy(strategy))
    }

    /// A partial of one update per value, each delta constant at that value, weight 1.
    func partial(_ values: [Float], ids: [UpdateID]? = nil, base: ModelVersion = 0) throws -> CoordinatorStateMachine.Input {
        var aggregate = PartialAggregate(dimension: spec.parameterCount)
        for (index, value) in values.enumerated() {
            try aggregate.add(
                id: ids?[index] ?? .random(), baseVersion: base, weight: 1,
                delta: [Float](repeating: value, count: spec.parameterCount))
        }
        return .partial(aggregate, settled: [])
    }

    func records(_ action: CoordinatorStateMachine.Action) -> [SettlementRecord] {
        switch action {
        case .acknowledge(let records), .hold(let records), .apply(let records), .postpone(let records, _): records
        case .deadLetter(_, _, let records), .returnUpdates(_, let records): records
        case .rewind: []
        }
    }

    @Test func fedBuffHoldsUntilKThenAppliesTheMean() throws {
        var machine = machine(.fedBuff(bufferSize: 3))
        #expect(machine.receive(try partial([1])) == .hold(records: []))
        #expect(machine.receive(try partial([2])) == .hold(records: []))
        #expect(machine.bufferedUpdates == 2)
        #expect(machine.receive(try partial([6])) == .apply(records: []))
        let applying = try machine.applyBuffer()
        let applied = try #require(applying)
        #expect(applied.model.version == 1 && applied.model.updatesApplied == 3)
        // SGD with learning rate 1 takes the mean delta: (1 + 2 + 6) / 3.
        #expect(applied.model.parameters == [Float](repeating: 3, count: spec.parameterCount))
        #expect(applied.records.map(\.disposition) == [.applied, .applied, .applied])
        #expect(applied.records.allSatisfy { $0.version == 1 })
        #expect(applied.staleness == [0, 0, 0])
        #expect(machine.state.accounting.applied == 3)
        let again = try machine.applyBuffer()
        #expect(again == nil)
    }

    /// Issue 16: four finite updates of 3e38 summed past Float's range, and the coordinator
    /// published and checkpointed a model of +Inf. The aggregate is refused whole now: its
    /// updates are booked `non-finite`, the model stays at the previous version, and the
    /// next, sane aggregate applies as if nothing happened.
    @Test func anAggregateThatOverflowsIsRefusedAndTheModelKept() throws {
        var machine = machine(.fedBuff(bufferSize: 4))
        for _ in 0..<3 { #expect(machine.receive(try partial([3e38])) == .hold(records: [])) }
        #expect(machine.receive(try partial([3e38])) == .apply(records: []))
        let refused = try #require(try machine.applyBuffer())
        #expect(!refused.released)
        #expect(refused.model.version == 0 && refused.model.parameters == [Float](repeating: 0, count: spec.parameterCount))
        #expect(refused.records.count == 4 && refused.records.allSatisfy { $0.disposition == .rejected && $0.reason == .nonFinite })
        #expect(machine.state.accounting.rejected == [.nonFinite: 4] && machine.state.accounting.applied == 0)
        for value: Float in [1, 2, 3] { _ = machine.receive(try partial([value])) }
        #expect(machine.receive(try partial([6])) == .apply(records: []))
        let applied = try #require(try machine.applyBuffer())
        #expect(applied.released && applied.model.version == 1)
        #expect(applied.model.parameters == [Float](repeating: 3, count: spec.parameterCount))
    }

    @Test func aShortBufferTakesTheStepItsFillEarns() throws {
        var machine = machine(.fedBuff(bufferSize: 4))
        #expect(machine.receive(try partial([8])) == .hold(records: []))
        let applying = try machine.applyBuffer()
        let applied = try #require(applying)
        // One update of four: Σ/K = 8/4, not the full mean 8.
        #expect(applied.model.parameters == [Float](repeating: 2, count: spec.parameterCount))
    }

    @Test func aRedeliveredPartialIsAcknowledgedWithoutBooking() throws {
        var machine = machine(.fedAsync(mixing: 1))
        let ids = [UpdateID.random()]
        #expect(machine.receive(try partial([1], ids: ids)) == .apply(records: []))
        _ = try machine.applyBuffer()
        // The broker hands the same partial out again after a crash before its ack.
        #expect(machine.receive(try partial([1], ids: ids)) == .acknowledge(records: []))
        #expect(machine.state.model.version == 1 && machine.state.accounting.applied == 1)
    }

    @Test func aRedeliveryOfABufferedPartialIsNotBufferedTwice() throws {
        var machine = machine(.fedBuff(bufferSize: 3))
        let ids = [UpdateID.random()]
        #expect(machine.receive(try partial([1], ids: ids)) == .hold(records: []))
        #expect(machine.receive(try partial([1], ids: ids)) == .acknowledge(records: []))
        #expect(machine.bufferedUpdates == 1)
    }

    @Test func aPartialMixingCountedAndNewUpdatesIsParkedAndItsNewOnesBookedAsDuplicates() throws {
        var machine = machine(.fedAsync(mixing: 1))
        let counted = UpdateID.random()
        let new = UpdateID.random()
        _ = machine.receive(try partial([1], ids: [counted]))
        _ = try machine.applyBuffer()
        let action = machine.receive(try partial([1, 2], ids: [counted, new]))
        guard case .deadLetter(let reason, _, let records) = action else {
            Issue.record("expected a dead letter, got \(action)")
            return
        }
        #expect(reason == .duplicate)
        #expect(records.map(\.id) == [new] && records.map(\.reason) == [.duplicate])
        #expect(machine.state.accounting.rejected[.duplicate] == 1)
        #expect(machine.state.model.version == 1)
    }

    @Test func settledEntriesAreBookedOnceEach() throws {
        var machine = machine(.fedBuff(bufferSize: 2))
        let poison = PartialAggregateSummary.Settled(updateID: .random(), baseVersion: 0, reason: .malformed)
        let stale = PartialAggregateSummary.Settled(updateID: .random(), baseVersion: 0, reason: .stale)
        let input = CoordinatorStateMachine.Input.partial(PartialAggregate(dimension: spec.parameterCount), settled: [poison, poison, stale])
        let action = machine.receive(input)
        let first = records(action)
        #expect(first.map(\.disposition) == [.rejected, .stale])
        #expect(first.map(\.reason) == [.malformed, nil])
        // A redelivery of the same settled entries books nothing more.
        #expect(machine.receive(input) == .acknowledge(records: []))
        #expect(machine.state.accounting.rejected[.malformed] == 1)
        #expect(machine.state.accounting.droppedStale == 1)
    }

    @Test func undecodableBytesAreParkedAsMalformed() {
        var machine = machine(.fedAsync(mixing: 1))
        let input = CoordinatorStateMachine.decode(TestUpdates.garbage, spec: spec)
        guard case .deadLetter(let reason, let detail, let records) = machine.receive(input) else {
            Issue.record("expected a dead letter")
            return
        }
        #expect(reason == .malformed && records.isEmpty)
        #expect(detail.hasPrefix("partial: "))
    }

    @Test func aClientUpdateOnThePartialsQueueIsNotAPartial() throws {
        let update = try TestUpdates.update(0.5, spec: spec)
        guard case .undecodable(let detail) = CoordinatorStateMachine.decode(update.body, spec: spec) else {
            Issue.record("a client update decoded as a partial")
            return
        }
        #expect(detail.contains("expected a partial aggregate"))
    }

    @Test func fedAvgRefusesAPartialFromAnotherRound() throws {
        var machine = machine(.fedAvg(clientsPerRound: 2))
        let action = machine.receive(try partial([1], base: 3))
        guard case .deadLetter(let reason, _, let records) = action else {
            Issue.record("expected a dead letter, got \(action)")
            return
        }
        #expect(reason == .wrongRound)
        #expect(records.map(\.reason) == [.wrongRound])
        #expect(machine.bufferedUpdates == 0)
    }

    @Test func aBufferIsOverdueOnlyAfterItsWait() throws {
        var machine = machine(.fedBuff(bufferSize: 5))
        let start = ContinuousClock.now
        #expect(!machine.bufferOverdue(after: .seconds(1), now: start + .seconds(5)))
        _ = machine.receive(try partial([1]), now: start)
        #expect(!machine.bufferOverdue(after: .seconds(1), now: start + .milliseconds(999)))
        #expect(machine.bufferOverdue(after: .seconds(1), now: start + .seconds(1)))
        _ = try machine.applyBuffer()
        #expect(!machine.bufferOverdue(after: .seconds(1), now: start + .seconds(5)))
    }

    /// Issue 16: 66,536 cheap refusals once pushed an applied id out of a window of
    /// 65,536, and its replay counted twice. Applied ids now expire only with their version.
    @Test func noFloodOfRefusalsMakesAReplayCountTwice() throws {
        var machine = machine(.fedAsync(mixing: 1), window: 2)
        let honest = UpdateID.random()
        _ = machine.receive(try partial([1], ids: [honest]))
        _ = try machine.applyBuffer()
        // Far more digest-booked refusals than the refusals' window holds.
        let flood = (0..<100).map { _ in PartialAggregateSummary.Settled(updateID: .random(), baseVersion: 1, reason: .malformed) }
        _ = machine.receive(.partial(PartialAggregate(dimension: spec.parameterCount), settled: flood))
        #expect(machine.state.settledIDs.refusals.count == 2)
        #expect(machine.state.settledIDs.contains(honest))
        #expect(machine.receive(try partial([1], ids: [honest])) == .acknowledge(records: []))
        #expect(machine.state.model.updatesApplied == 1)
    }

    /// An id is forgotten once its base version is beyond the horizon (8 + the workers'
    /// lag), and a partial holding an update that old is refused whole as stale: a replay
    /// can never count twice, however late it comes.
    @Test func idsExpireWithTheirVersionAndOlderPartialsAreStale() throws {
        var machine = machine(.fedAsync(mixing: 1), horizon: 8)
        let first = UpdateID.random()
        _ = machine.receive(try partial([1], ids: [first], base: 0))
        _ = try machine.applyBuffer()
        let horizon = ModelVersion(machine.state.settledIDs.horizon)
        for version in 1...horizon {
            _ = machine.receive(try partial([0], base: version))
            _ = try machine.applyBuffer()
        }
        #expect(machine.state.model.version == horizon + 1)
        #expect(!machine.state.settledIDs.contains(first))
        #expect(machine.state.settledIDs.versionedCount == Int(horizon))
        let replay = machine.receive(try partial([5], ids: [first], base: 0))
        guard case .deadLetter(.stale, _, let records) = replay else {
            Issue.record("expected the replay refused as stale, got \(replay)")
            return
        }
        #expect(records.map(\.disposition) == [.stale])
        #expect(machine.state.model.updatesApplied == Int(horizon) + 1)
        #expect(machine.state.accounting.droppedStale == 1)
    }
}

/// Issue 20: a second message under a counted id, arriving in another partial, is booked
/// as a duplicate under a key of its own; the same message again settles silently.
@Suite struct CoordinatorReplayTests {
    let base = CoordinatorStateMachineTests()

    func partial(_ entries: [(UpdateID, UInt32)]) throws -> CoordinatorStateMachine.Input {
        var aggregate = PartialAggregate(dimension: base.spec.parameterCount)
        for (id, checksum) in entries {
            aggregate.add(id: id, baseVersion: 0, checksum: checksum, weight: 1, mass: 1) { sum, weight in
                for index in 0..<sum.count { sum[index] += weight }
            }
        }
        return .partial(aggregate, settled: [])
    }

    @Test func aReplayUnderACountedIdIsBookedOnceAndTheCopyNotAtAll() throws {
        var machine = base.machine(.fedAsync(mixing: 1))
        let honest = UpdateID.random()
        _ = machine.receive(try partial([(honest, 0xAAAA)]))
        _ = try machine.applyBuffer()
        // The same message again (a client's retry, or a redelivery): nothing to book.
        #expect(machine.receive(try partial([(honest, 0xAAAA)])) == .acknowledge(records: []))
        // Another message under the same id, alone in its partial: one duplicate, not applied.
        let replay = base.records(machine.receive(try partial([(honest, 0xBBBB)])))
        #expect(replay.map(\.reason) == [.duplicate])
        #expect(replay.first?.id != honest)
        // Its partial redelivered: booked already.
        #expect(machine.receive(try partial([(honest, 0xBBBB)])) == .acknowledge(records: []))
        #expect(machine.state.accounting.applied == 1 && machine.state.accounting.rejectedTotal == 1)
        // Mixed with a fresh update, the partial cannot be split: parked, both booked.
        let fresh = UpdateID.random()
        guard case .deadLetter(.duplicate, _, let records) = machine.receive(try partial([(honest, 0xCCCC), (fresh, 1)])) else {
            Issue.record("a partial mixing a replay and a fresh update was not parked")
            return
        }
        #expect(Set(records.map(\.id)).count == 2 && records.allSatisfy { $0.reason == .duplicate })
        #expect(machine.state.accounting.applied == 1 && machine.state.accounting.rejectedTotal == 3)
        #expect(machine.state.model.version == 1)
    }

    /// A message refused under its own id (rate-limited, stale, over a bound) and then another
    /// message under that id that a worker took: the second is a replay, booked `duplicate`
    /// and not applied; the refused message itself, redelivered and taken this time, books
    /// nothing. (The attack test once lost a replay's line this way: refusals were
    /// remembered without their checksum, so every later message under the id looked like
    /// a copy.)
    @Test func aReplayOfARefusedIdIsBookedAndACopyOfItIsNot() throws {
        var machine = base.machine(.fedAsync(mixing: 1))
        let id = UpdateID.random()
        let refused = PartialAggregateSummary.Settled(updateID: id, baseVersion: 0, reason: .rateLimited, checksum: 0xAAAA)
        let first = base.records(machine.receive(.partial(PartialAggregate(dimension: base.spec.parameterCount), settled: [refused])))
        #expect(first.map(\.id) == [id] && first.map(\.reason) == [.rateLimited])
        // The refused message itself, taken by a worker on a redelivery: already booked.
        #expect(machine.receive(try partial([(id, 0xAAAA)])) == .acknowledge(records: []))
        // Another message under the id: one duplicate line, under a key of its own.
        let replay = base.records(machine.receive(try partial([(id, 0xBBBB)])))
        #expect(replay.map(\.reason) == [.duplicate] && replay.first?.id != id)
        #expect(machine.state.accounting.applied == 0 && machine.state.accounting.rejectedTotal == 2)
        // A third message under the id, refused by a worker too (rate-limited again): also a
        // duplicate line of its own; the first refusal redelivered books nothing.
        let refusedReplay = PartialAggregateSummary.Settled(updateID: id, baseVersion: 0, reason: .rateLimited, checksum: 0xCCCC)
        let third = base.records(machine.receive(.partial(PartialAggregate(dimension: base.spec.parameterCount), settled: [refusedReplay, refused])))
        #expect(third.map(\.reason) == [.duplicate] && !([id] + replay.map(\.id)).contains(third.first?.id ?? id))
        #expect(machine.state.accounting.applied == 0 && machine.state.accounting.rejectedTotal == 3)
        #expect(machine.state.model.version == 0)
    }
}
