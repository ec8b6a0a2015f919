@testable import Roles
import Aggregation
import Foundation
import Learning
import Testing
import Wire

/// The defences every update passes at a worker (issue 16), driven without a broker.
@Suite struct WorkerDefenceTests {
    let spec = try! ModelSpec.synthetic(parameters: 8)
    let helper = WorkerStateMachineTests()

    func machine(flush: Int = 100, bySamples: Bool = false, defences: UpdateDefences = .default) -> WorkerStateMachine {
        helper.machine(flush: flush, bySamples: bySamples, defences: defences)
    }

    func receive(_ machine: inout WorkerStateMachine, _ value: Float, samples: UInt64 = 600, client: UInt64? = nil) throws -> WorkerStateMachine.Decision {
        let update = try helper.update(value, samples: samples, client: client ?? .random(in: 0...UInt64.max))
        return helper.receive(&machine, update)
    }

    /// Each update's contribution to the sum, from the batch's weighted sum (all deltas constant).
    func norm(of value: Float) -> Double { Double(abs(value)) * Double(8).squareRoot() }

    @Test func anAdaptiveBoundClipsAnExplodedUpdateToThreeTimesTheMedian() throws {
        var machine = machine()
        for _ in 0..<5 { _ = try receive(&machine, 0.1) }
        // Well-formed, finite, 1e30 in every value: the update that took accuracy to 0.098.
        #expect(try receive(&machine, 1e30) == .added(batches: []))
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.count == 6)
        // Five honest updates of 0.1 plus one clipped to 3 × the median norm (0.1·√8): 0.3 per value.
        for value in batch.partial.weightedSum { #expect(abs(value - 0.8) < 1e-5) }
        #expect(machine.clippedCount == 1)
    }

    @Test func theFirstUpdateAWorkerSeesDoesNotSetItsOwnBound() throws {
        var machine = machine()
        // The attacker is first: it waits, with the honest updates, for five norms.
        #expect(try receive(&machine, 1e30) == .added(batches: []))
        for _ in 0..<4 { #expect(try receive(&machine, 0.1) == .added(batches: [])) }
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.count == 5 && batch.deliveries == 5)
        // Lower median of {0.1 ×4, 1e30} is 0.1's norm: the attacker is cut to 0.3 per value.
        for value in batch.partial.weightedSum { #expect(abs(value - 0.7) < 1e-5) }
    }

    @Test func warmingUpdatesWaitAtMostASecondForTheBound() throws {
        var machine = machine()
        let start = ContinuousClock.now
        _ = machine.receive(try helper.update(0.1).body, redelivered: false, now: start)
        let early = machine.batchIfDue(now: start + .milliseconds(500))
        #expect(early == nil)
        let dueBatch = machine.batchIfDue(now: start + .seconds(1))
        let due = try #require(dueBatch)
        #expect(due.partial.count == 1)
    }

    @Test func aFixedBoundClipsToItself() throws {
        var machine = machine(defences: UpdateDefences(norm: .fixed(1)))
        _ = try receive(&machine, 10)
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(abs(batch.partial.weightedSum.l2Norm() - 1) < 1e-5)
    }

    @Test func aSampleCountOverTheMaximumIsRefusedOutOfBounds() throws {
        var machine = machine(bySamples: true)
        let refused = try #require(helper.refusal(try receive(&machine, 0.1, samples: UInt64(1) << 63)))
        #expect(refused.reason == .outOfBounds)
        #expect(refused.detail.hasPrefix("samples-over-max"))
    }

    @Test func noUpdateWeighsMoreThanFourTimesTheMedianSampleCount() throws {
        var machine = machine(bySamples: true)
        for _ in 0..<5 { _ = try receive(&machine, 0.1, samples: 600) }
        _ = try receive(&machine, 0.1, samples: 1_000_000)
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        // Five of 600 and one capped at 4 × 600.
        #expect(batch.partial.massTotal == 5 * 600 + 2_400)
    }

    @Test func oneClientGetsFourUpdatesPerVersionTheRestAreRateLimited() throws {
        var machine = machine(defences: UpdateDefences(norm: .off))
        let decisions = try (0..<6).map { _ in try receive(&machine, 0.1, client: 7) }
        let refused = decisions.compactMap(helper.refusal)
        #expect(refused.map(\.reason) == [.rateLimited, .rateLimited])
        // Another client is not affected, and a new version gives client 7 a new share.
        #expect(try receive(&machine, 0.1, client: 8) == .added(batches: []))
        machine.heard(1)
        #expect(try receive(&machine, 0.1, client: 7) == .added(batches: []))
    }

    /// A worker that starts mid-run has heard no version yet, and may read a backlog of
    /// updates sent over many versions (a stream shard taken over, a queue after an outage):
    /// an honest client's one update per version is not a flood. Until the first notice the
    /// newest base seen is the clock; after it, the heard version.
    @Test func beforeItsFirstNoticeAWorkerCountsAClientsShareByTheNewestBaseSeen() throws {
        var machine = machine(defences: UpdateDefences(norm: .off))
        let backlog = try (1...10).map { base in helper.receive(&machine, try helper.update(0.1, base: ModelVersion(base), client: 7)) }
        #expect(backlog.compactMap(helper.refusal).isEmpty)
        // A flood from one base, interleaved with another client's older updates, is still held to four.
        var flood: [WorkerStateMachine.Decision] = []
        for _ in 0..<6 {
            flood.append(helper.receive(&machine, try helper.update(0.1, base: 10, client: 8)))
            _ = helper.receive(&machine, try helper.update(0.1, base: 3, client: .random(in: 100...UInt64.max)))
        }
        #expect(flood.compactMap(helper.refusal).map(\.reason) == [.rateLimited, .rateLimited])
        // Once a notice is heard, the worker's version is the clock again, whatever the bases.
        machine.heard(12)
        let after = try (5...10).map { base in helper.receive(&machine, try helper.update(0.1, base: ModelVersion(base), client: 9)) }
        let refused = after.compactMap(helper.refusal)
        #expect(refused.map(\.reason) == [.rateLimited, .rateLimited])
        #expect(refused.first?.detail.hasSuffix("at version 12") == true)
    }

    @Test func defenceSpecsParseAndRefuseNonsense() throws {
        #expect(try NormBound(parsing: "adaptive") == .adaptive(multiplier: 3))
        #expect(try NormBound(parsing: "adaptive:5") == .adaptive(multiplier: 5))
        #expect(try NormBound(parsing: "fixed:2.5") == .fixed(2.5))
        #expect(try NormBound(parsing: "off") == .off)
        #expect(throws: SpecError.self) { try NormBound(parsing: "adaptive:0.5") }
        #expect(throws: SpecError.self) { try NormBound(parsing: "fixed:-1") }
        #expect(throws: SpecError.self) { try NormBound(parsing: "median") }
    }

    @Test func theRunningMedianIsTheLowerMedianOfItsWindow() {
        var median = RunningMedian(capacity: 3)
        #expect(median.median == nil)
        median.record(5)
        median.record(1)
        #expect(median.median == 1)
        median.record(3)
        median.record(.infinity)
        #expect(median.median == 3)
        median.record(100)
        median.record(200)
        #expect(median.median == 100)
    }
}
