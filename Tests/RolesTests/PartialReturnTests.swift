@testable import Roles
import Aggregation
import FedCore
import Foundation
import Messaging
import Testing
import Trust
import Wire

/// A partial that mixes a counted update with new ones (a replay that reached another
/// worker than its first copy) cannot be split; with a return address the coordinator parks
/// it, books only the counted copy, and asks its worker for the new updates back, which
/// then count (docs/robustness.md). No broker: the rules and the worker's shelf alone.
@Suite struct PartialReturnTests {
    let base = CoordinatorStateMachineTests()
    let replays = CoordinatorReplayTests()
    let address = PartialReturn(worker: 0xFEED_0000_0000_0001, partial: 41)

    /// A machine that applied one update (`honest`, checksum 0xAAAA): the id a replay reuses.
    func counted() throws -> (CoordinatorStateMachine, UpdateID) {
        var machine = base.machine(.fedAsync(mixing: 1))
        let honest = UpdateID.random()
        _ = machine.receive(try replays.partial([(honest, 0xAAAA)]))
        _ = try machine.applyBuffer()
        return (machine, honest)
    }

    @Test func aMixedPartialWithAnAddressAsksItsNewUpdatesBackAndTheyCount() throws {
        var (machine, honest) = try counted()
        // A byte-for-byte replay of `honest`, summed by another worker beside two new updates.
        let (first, second) = (UpdateID.random(), UpdateID.random())
        let mixed = try replays.partial([(first, 1), (honest, 0xAAAA), (second, 2)])
        guard case .returnUpdates(let detail, let records) = machine.receive(mixed, returnTo: address, unixTime: 1_000) else {
            Issue.record("a mixed partial with a return address was not asked back")
            return
        }
        #expect(records.isEmpty, "the copy settles with its first; the new ones are not booked yet")
        #expect(detail.contains("1 of 3 updates already counted") && detail.contains("the other 2 asked back"))
        #expect(machine.returnRequests == [address])
        #expect(machine.state.pendingReturns.first?.entries.map(\.id) == [first, second])
        #expect(machine.state.pendingReturns.first?.deadline == 1_000 + CoordinatorStateMachine.returnWait)
        // The same partial redelivered (a coordinator restarted before its ack): one request still.
        #expect(machine.receive(mixed, returnTo: address, unixTime: 1_001) == .returnUpdates(detail: detail, records: []))
        #expect(machine.state.pendingReturns.count == 1)
        // The worker sums each again, alone: both count.
        for (id, checksum) in [(first, UInt32(1)), (second, 2)] {
            _ = machine.receive(try replays.partial([(id, checksum)]))
            _ = try machine.applyBuffer()
        }
        #expect(machine.state.accounting.applied == 3 && machine.state.accounting.rejectedTotal == 0)
        // Fulfilled: the request is dropped and nothing is booked.
        let settled = machine.settleReturns(unixTime: 1_002)
        #expect(settled.records.isEmpty && settled.changed && machine.returnRequests.isEmpty)
    }

    @Test func updatesThatDoNotComeBackInTimeAreBookedAsDuplicatesOnce() throws {
        var (machine, honest) = try counted()
        let (back, lost) = (UpdateID.random(), UpdateID.random())
        _ = machine.receive(try replays.partial([(back, 1), (honest, 0xBBBB), (lost, 2)]), returnTo: address, unixTime: 100)
        // The replay under a counted id (another message: its checksum differs) is booked at once.
        #expect(machine.state.accounting.rejected == [.duplicate: 1])
        _ = machine.receive(try replays.partial([(back, 1)]))
        _ = try machine.applyBuffer()
        let waiting = machine.settleReturns(unixTime: 100 + CoordinatorStateMachine.returnWait - 1)
        #expect(waiting.records.isEmpty && !waiting.changed && machine.returnRequests == [address])
        let expired = machine.settleReturns(unixTime: 100 + CoordinatorStateMachine.returnWait)
        #expect(expired.records.map(\.id) == [lost] && expired.records.map(\.reason) == [.duplicate] && expired.changed)
        #expect(machine.state.accounting.applied == 2 && machine.state.accounting.rejected == [.duplicate: 2])
        // It comes back late: a copy of what is booked, acknowledged and not counted again.
        #expect(machine.receive(try replays.partial([(lost, 2)])) == .acknowledge(records: []))
        #expect(machine.settleReturns(unixTime: 10_000).records.isEmpty)
        #expect(machine.state.accounting.applied == 2 && machine.state.accounting.rejectedTotal == 2)
    }

    @Test func withoutAnAddressAMixedPartialCostsItsNewUpdatesAsBefore() throws {
        var (machine, honest) = try counted()
        guard case .deadLetter(.duplicate, _, let records) = machine.receive(try replays.partial([(honest, 0xAAAA), (.random(), 1)])) else {
            Issue.record("not parked")
            return
        }
        #expect(records.map(\.reason) == [.duplicate] && machine.returnRequests.isEmpty)
    }

    @Test func pendingReturnsSurviveACheckpoint() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-returns-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try CoordinatorStore(directory: directory)
        var (machine, honest) = try counted()
        _ = machine.receive(try replays.partial([(honest, 0xAAAA), (.random(), 7)]), returnTo: address, unixTime: 50)
        try store.commit(machine.state, spec: base.spec, records: [])
        let loaded = try #require(try store.load(spec: base.spec, strategy: machine.state.strategy, stalenessHorizon: 8))
        #expect(loaded.pendingReturns == machine.state.pendingReturns && loaded.pendingReturns.count == 1)
    }

    @Test func addressesTravelAsSixteenBytesAndBrokenOnesAreRefused() {
        var properties = MessageProperties()
        address.attach(to: &properties)
        #expect(PartialReturn(properties) == address)
        #expect(properties.headers[MessageProperties.HeaderName.returnAddress]?.bytesValue?.count == 16)
        var notice = MessageProperties()
        #expect(PartialReturn.requests(on: notice) == [])
        let other = PartialReturn(worker: 3, partial: 0)
        PartialReturn.attach([address, other], to: &notice)
        #expect(PartialReturn.requests(on: notice) == [address, other])
        notice.headers[MessageProperties.HeaderName.returnRequests] = .bytes([UInt8](repeating: 1, count: 17))
        #expect(PartialReturn.requests(on: notice) == nil)
        notice.headers[MessageProperties.HeaderName.returnRequests] = .bytes([UInt8](repeating: 1, count: 16 * (PartialReturn.maxRequests + 1)))
        #expect(PartialReturn.requests(on: notice) == nil)
        properties.headers[MessageProperties.HeaderName.returnAddress] = .bytes([1, 2, 3])
        #expect(PartialReturn(properties) == nil)
    }

    /// On by default where updates are signed (BENCHMARKS.md: it costs a worker about 3%).
    @Test func theShelfIsOnByDefaultOnlyForAWorkerThatVerifiesCredentials() {
        var settings = WorkerSettings(flushUpdates: 1, staleness: StalenessPolicy())
        #expect(settings.effectiveReturnShelfBytes == 0)
        settings.issuer = SigningKey().publicKey
        #expect(settings.effectiveReturnShelfBytes == 32 << 20)
        settings.returnShelfBytes = 0
        #expect(settings.effectiveReturnShelfBytes == 0)
        settings.issuer = nil
        settings.returnShelfBytes = 16 << 20
        #expect(settings.effectiveReturnShelfBytes == 16 << 20)
    }

    @Test func theShelfKeepsTheNewestPartialsWithinItsBytes() {
        var shelf = ReturnShelf(capacity: 1_000)
        func updates(_ count: Int, bytes: Int) -> [ReturnShelf.Update] {
            (0..<count).map { _ in .init(body: [UInt8](repeating: 0, count: bytes), properties: MessageProperties()) }
        }
        shelf.shelve(updates(2, bytes: 300), partial: 1)
        shelf.shelve(updates(1, bytes: 300), partial: 2)
        #expect(shelf.count == 2 && shelf.bytes == 900)
        shelf.shelve(updates(1, bytes: 200), partial: 3)
        #expect(shelf.count == 2 && shelf.bytes == 500, "the oldest partial made room")
        #expect(shelf.take(partial: 1) == nil)
        #expect(shelf.take(partial: 2)?.count == 1 && shelf.bytes == 200)
        #expect(shelf.take(partial: 2) == nil, "taken once")
        shelf.shelve(updates(1, bytes: 1_001), partial: 4)
        #expect(shelf.count == 1, "a partial larger than the shelf is not kept")
        // Kept no longer than the coordinator waits for what it asked back.
        let start = ContinuousClock.now
        var timed = ReturnShelf(capacity: 1_000)
        timed.shelve(updates(1, bytes: 100), partial: 1, now: start)
        timed.shelve(updates(1, bytes: 100), partial: 2, now: start + .seconds(20))
        timed.expire(now: start + ReturnShelf.keep)
        #expect(timed.count == 2)
        timed.expire(now: start + ReturnShelf.keep + .seconds(1))
        #expect(timed.count == 1 && timed.bytes == 100 && timed.take(partial: 2) != nil)
    }
}

/// The worker's side of a return, without I/O: an update it summed before, asked back, is
/// summed again (not refused as one it summed already, not charged to its client's rate
/// again), alone in a partial of its own; a second return of the same message settles with
/// the first, and another message under its id is still a duplicate.
@Suite struct WorkerReturnTests {
    let base = WorkerStateMachineTests()

    @Test func aReturnedUpdateIsSummedAgainAloneAndOnlyOnce() throws {
        var defences = UpdateDefences.off
        defences.updatesPerClientVersion = 1
        var machine = base.machine(flush: 4, defences: defences)
        let client: UInt64 = 7
        let update = try base.update(0.5, client: client)
        _ = base.receive(&machine, update)
        let first = machine.takeBatch()
        #expect(first?.partial.updateIDs == [update.id])
        // Sent again by a client: the same bytes settle with the first copy, unsummed.
        #expect(base.receive(&machine, update) == .added(batches: []))
        _ = machine.takeBatch()
        // One new update is open when the coordinator asks `update` back.
        let open = try base.update(0.25)
        _ = base.receive(&machine, open)
        guard case .added(let batches) = machine.receive(update.body, redelivered: true, returned: true) else {
            Issue.record("a returned update was refused")
            return
        }
        // What was open goes first, then the returned update alone, at its full weight:
        // the client's one update per version was its first copy, not this.
        #expect(batches.map(\.partial.updateIDs) == [[open.id], [update.id]])
        #expect(batches.last?.partial.weightedSum == [Float](repeating: 0.5, count: base.spec.parameterCount))
        // Asked back twice (two copies of one message were kept): the second settles with the first.
        #expect(machine.receive(update.body, redelivered: true, returned: true) == .added(batches: []))
        #expect(machine.takeBatch()?.partial.isEmpty == true)
    }

    /// Bytes asked back come out of the worker's own memory, where only updates it verified
    /// went: they are not authenticated again, so a credential that expired or was revoked in
    /// between cannot book the update a second time (under its digest) beside the request.
    @Test func aReturnedUpdateIsNotAuthenticatedAgain() throws {
        let settings = WorkerSettings(flushUpdates: 4, staleness: StalenessPolicy(), defences: .off, issuer: SigningKey().publicKey)
        var machine = WorkerStateMachine(spec: base.spec, settings: settings)
        let update = try base.update(0.5)
        #expect(base.refusal(base.receive(&machine, update))?.reason == .unauthenticated, "from the network, unsigned bytes are refused")
        guard case .added(let batches) = machine.receive(update.body, redelivered: true, returned: true) else {
            Issue.record("a returned update was refused")
            return
        }
        #expect(batches.last?.partial.updateIDs == [update.id])
    }
}
