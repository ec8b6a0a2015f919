@testable import Roles
import Aggregation
import Foundation
import Learning
import Testing
import Wire

/// The worker's rules, driven without a broker: update bytes in, decisions out.
@Suite struct WorkerStateMachineTests {
    let spec = try! ModelSpec.synthetic(parameters: 8)

    func machine(
        flush: Int = 2, maxStaleness: Int? = nil, maxNorm: Float? = nil, bySamples: Bool = false,
        defences: UpdateDefences = .off
    ) -> WorkerStateMachine {
        WorkerStateMachine(spec: spec, settings: WorkerSettings(
            flushUpdates: flush, flushInterval: .milliseconds(20),
            staleness: StalenessPolicy(function: .constant, maxStaleness: maxStaleness, weighsBySamples: bySamples),
            maxNorm: maxNorm, defences: defences))
    }

    func update(
        _ value: Float, base: ModelVersion = 0, id: UpdateID = .random(), samples: UInt64 = 600, client: UInt64 = .random(in: 0...UInt64.max),
        codec: CodecSpec = .fp32
    ) throws -> (body: [UInt8], id: UpdateID) {
        let header = MessageHeader(
            kind: .clientUpdate, specHash: spec.hash, modelVersion: base, updateID: id, clientID: client, sampleCount: samples,
            parameterCount: spec.parameterCount, codec: codec)
        return (try Envelope.encode([Float](repeating: value, count: spec.parameterCount), header: header), id)
    }

    func receive(_ machine: inout WorkerStateMachine, _ update: (body: [UInt8], id: UpdateID), redelivered: Bool = false) -> WorkerStateMachine.Decision {
        machine.receive(update.body, properties: MessageProperties(messageID: update.id.hex), redelivered: redelivered)
    }

    func refusal(_ decision: WorkerStateMachine.Decision) -> WorkerStateMachine.Refusal? {
        if case .refuse(let refusal) = decision { refusal } else { nil }
    }

    @Test func updatesAreSummedAndFlushedAtTheFlushSize() throws {
        var machine = machine(flush: 2)
        let first = try update(1)
        let second = try update(2)
        #expect(receive(&machine, first) == .added(batches: []))
        guard case .added(let batches) = receive(&machine, second), let batch = batches.first, batches.count == 1 else {
            Issue.record("the second update did not flush")
            return
        }
        #expect(batch.deliveries == 2 && batch.settled.isEmpty)
        #expect(batch.partial.updateIDs == [first.id, second.id])
        #expect(batch.partial.weightedSum == [Float](repeating: 3, count: spec.parameterCount))
        #expect(batch.partial.weightTotal == 2 && batch.partial.massTotal == 2)
        let rest = machine.takeBatch()
        #expect(rest == nil)
    }

    @Test func aBatchOfLossyUpdatesTravelsAsFP16AndOneExactUpdateKeepsItFP32() throws {
        var machine = machine(flush: 2)
        let int8 = try CodecSpec(parsing: "int8")
        _ = receive(&machine, try update(0.5, codec: int8))
        guard case .added(let lossy) = receive(&machine, try update(0.25, codec: CodecSpec(values: .fp16))), let lossyBatch = lossy.first else {
            Issue.record("the second update did not flush")
            return
        }
        #expect(!lossyBatch.holdsExactUpdates)
        #expect(PartialPrecision.codec(for: lossyBatch.partial.weightedSum, holdsExactUpdates: false) == PartialPrecision.reduced)
        _ = receive(&machine, try update(0.5, codec: int8))
        guard case .added(let mixed) = receive(&machine, try update(0.25)), let mixedBatch = mixed.first else {
            Issue.record("the fourth update did not flush")
            return
        }
        #expect(mixedBatch.holdsExactUpdates)
        // The flag starts over with the next partial.
        _ = receive(&machine, try update(0.5, codec: int8))
        let next = machine.takeBatch()
        #expect(next?.holdsExactUpdates == false)
    }

    @Test func garbageIsRefusedAsMalformedUnderItsDigest() throws {
        var machine = machine()
        let decision = machine.receive(TestUpdates.garbage, redelivered: false)
        let refused = try #require(refusal(decision))
        #expect(refused.reason == .malformed)
        #expect(refused.id == Settlement.fnv1a128(TestUpdates.garbage))
        machine.settleRefused(refused)
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.isEmpty && batch.deliveries == 1)
        #expect(batch.settled == [.init(updateID: refused.id, baseVersion: 0, reason: .malformed)])
    }

    @Test func aSecondMessageUnderAnIDInThePartialIsBookedAsADuplicate() throws {
        var machine = machine(flush: 10)
        let original = try update(1)
        let copy = try update(5, id: original.id)
        #expect(receive(&machine, original) == .added(batches: []))
        let refused = try #require(refusal(receive(&machine, copy)))
        #expect(refused.reason == .duplicate)
        // Booked under its own bytes' digest: the original keeps its id.
        #expect(refused.id == Settlement.fnv1a128(copy.body) && refused.id != original.id)
        machine.settleRefused(refused)
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.updateIDs == [original.id])
        #expect(batch.partial.weightedSum == [Float](repeating: 1, count: spec.parameterCount))
        #expect(batch.settled.map(\.reason) == [.duplicate] && batch.deliveries == 2)
    }

    @Test func aRepublishedCopySettlesWithTheFirstOne() throws {
        var machine = machine(flush: 10)
        let original = try update(1)
        #expect(receive(&machine, original) == .added(batches: []))
        // The same bytes again (the client saw no confirm and published again).
        #expect(receive(&machine, original) == .added(batches: []))
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.updateIDs == [original.id] && batch.settled.isEmpty)
        #expect(batch.partial.weightedSum == [Float](repeating: 1, count: spec.parameterCount))
        #expect(batch.deliveries == 2)
    }

    /// Issue 16: after the first copy's partial left, a retry (same bytes) still settles
    /// silently, and a replay (other bytes, same id) is refused here, before it is summed
    /// with honest updates the coordinator would then have to refuse with it.
    @Test func copiesAfterTheFirstCopysPartialLeftAreToldApartBeforeSumming() throws {
        var machine = machine(flush: 1)
        let id = UpdateID.random()
        let original = try update(1, id: id)
        guard case .added(let batches) = receive(&machine, original) else {
            Issue.record("the first copy was not added")
            return
        }
        #expect(batches.count == 1)
        #expect(receive(&machine, original) == .added(batches: []))
        let replay = try #require(refusal(receive(&machine, try update(5, id: id))))
        #expect(replay.reason == .duplicate && replay.id != id)
        machine.settleRefused(replay)
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        // The retry's delivery and the replay's settle with this batch; nothing was summed.
        #expect(batch.partial.isEmpty && batch.deliveries == 2 && batch.settled.map(\.reason) == [.duplicate])
    }

    @Test func staleUpdatesAreRefusedAgainstTheNewestVersionHeard() throws {
        var machine = machine(maxStaleness: 2)
        machine.heard(10)
        let refused = try #require(refusal(receive(&machine, try update(1, base: 7))))
        #expect(refused.reason == .stale && refused.baseVersion == 7)
        #expect(refused.detail == "stale: 3 versions behind (max 2)")
        #expect(receive(&machine, try update(1, base: 8)) == .added(batches: []))
    }

    /// Issue 16: an update claiming a future base version once moved the worker's idea of
    /// the newest version, and every honest update after it was dropped as stale. Only
    /// version notices move it now; a base version beyond the newest notice (+ the lead a
    /// fanout race allows) is refused as out of bounds.
    @Test func aFutureBaseVersionMovesNothingAndIsRefusedOnceAVersionIsKnown() throws {
        var machine = machine(flush: 10, maxStaleness: 2)
        // Before any notice: counted as fresh, but it does not become the newest version.
        #expect(receive(&machine, try update(1, base: 1_000_000_000)) == .added(batches: []))
        #expect(machine.knownVersion == 0)
        machine.heard(10)
        #expect(receive(&machine, try update(1, base: 12)) == .added(batches: []))
        let refused = try #require(refusal(receive(&machine, try update(1, base: 13))))
        #expect(refused.reason == .outOfBounds && refused.baseVersion == 13)
        #expect(refused.detail == "base-version-ahead: 13 > newest version 10 + 2")
        #expect(machine.knownVersion == 10)
        // Honest updates on version 9 and 10 still count.
        #expect(receive(&machine, try update(1, base: 9)) == .added(batches: []))
    }

    @Test func aRedeliveredUpdateTravelsAlone() throws {
        var machine = machine(flush: 10)
        let open = try update(1)
        let again = try update(2)
        _ = receive(&machine, open)
        guard case .added(let batches) = receive(&machine, again, redelivered: true) else {
            Issue.record("the redelivered update was refused")
            return
        }
        #expect(batches.map(\.partial.updateIDs) == [[open.id], [again.id]])
        #expect(batches.map(\.deliveries) == [1, 1])
    }

    @Test func anUpdateBeyondTheNormBoundIsRefused() throws {
        var machine = machine(maxNorm: 1)
        // Eight values of 0.5: norm √2.
        let refused = try #require(refusal(receive(&machine, try update(0.5))))
        #expect(refused.reason == .outOfBounds)
        #expect(receive(&machine, try update(0.25)) == .added(batches: []))
    }

    @Test func aHugeClaimedSampleCountIsClampedNotTrappedOn() throws {
        var machine = machine(flush: 1, bySamples: true)
        guard case .added(let batches) = receive(&machine, try update(1, samples: UInt64.max)), let batch = batches.first else {
            Issue.record("the update was refused")
            return
        }
        #expect(batch.partial.massTotal == Double(Float(Int.max)))
    }

    @Test func theOpenBatchIsDueAfterTheFlushInterval() throws {
        var machine = machine(flush: 10)
        let start = ContinuousClock.now
        let early = machine.batchIfDue(now: start)
        #expect(early == nil)
        _ = machine.receive(try update(1).body, redelivered: false, now: start)
        let notYet = machine.batchIfDue(now: start + .milliseconds(19))
        #expect(notYet == nil)
        let due = machine.batchIfDue(now: start + .milliseconds(20))
        #expect(due?.deliveries == 1)
    }
}
