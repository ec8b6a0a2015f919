@testable import Roles
import Aggregation
import FedCore
import Foundation
import Learning
import Testing
import Trust
import Wire

/// The coordinator holds each client to its share of an aggregate across every worker
/// (`FleetClientLimit`, `--max-client-rate`). A sum cannot be split: a partial of nothing but
/// a client's excess is refused `rate-limited`; one that holds other clients' updates too is
/// taken whole, its excess only counted, so that a hostile client's excess never costs an
/// honest update. No broker: the rules alone.
@Suite struct FleetClientLimitRulesTests {
    let base = CoordinatorStateMachineTests()

    /// A FedBuff machine that applies at `buffer` updates, holding each client to `share`.
    func machine(share: Int? = 2, buffer: Int = 100) -> CoordinatorStateMachine {
        CoordinatorStateMachine(
            state: base.machine(.fedBuff(bufferSize: buffer)).state, strategy: AggregationStrategy(.fedBuff(bufferSize: buffer)),
            updatesPerClient: share)
    }

    /// A partial of one update per client in `clients`, each of delta `value(client)`.
    func partial(_ clients: [UInt64]) throws -> (CoordinatorStateMachine.Input, [UpdateID]) {
        let ids = clients.map { _ in UpdateID.random() }
        var aggregate = PartialAggregate(dimension: base.spec.parameterCount)
        for (id, client) in zip(ids, clients) {
            try aggregate.add(
                id: id, baseVersion: 0, clientID: client, weight: 1,
                delta: [Float](repeating: Self.value(client), count: base.spec.parameterCount))
        }
        return (.partial(aggregate, settled: []), ids)
    }

    /// The flooding client 9's updates move the model by 1 each, the others' by 0.01.
    static func value(_ client: UInt64) -> Float { client == 9 ? 1 : 0.01 }

    @Test func aClientsExcessTravellingAloneIsRefusedAndANewAggregateGivesItsShareBack() throws {
        var machine = machine()
        // One worker's partial: client 9 once beside client 1; its second update alone.
        #expect(machine.receive(try partial([9, 1]).0) == .hold(records: []))
        #expect(machine.receive(try partial([9]).0) == .hold(records: []))
        // Its third, alone from another worker: beyond its 2, refused and booked.
        let (excess, ids) = try partial([9])
        guard case .deadLetter(.rateLimited, let detail, let records) = machine.receive(excess) else {
            Issue.record("client 9's third update was taken")
            return
        }
        #expect(records.map(\.id) == ids && records.map(\.reason) == [.rateLimited])
        #expect(detail == "1 updates beyond their client's 2 in the aggregate")
        // The same partial redelivered: its update is settled, nothing is booked twice.
        #expect(machine.receive(excess) == .acknowledge(records: []))
        let applied = try #require(try machine.applyBuffer())
        #expect(applied.records.count == 3 && machine.state.accounting.rejected == [.rateLimited: 1])
        // Two of 1 and one of 0.01, drained short of FedBuff's K = 100, which it divides by.
        #expect(abs(machine.state.model.parameters[0] - 2.01 / 100) < 1e-6)
        // A new aggregate: client 9 has its share again.
        #expect(machine.receive(try partial([9, 9]).0) == .hold(records: []))
    }

    @Test func anExcessBesideOtherClientsIsTakenWholeSoThatNoHonestUpdateIsLost() throws {
        var machine = machine()
        _ = machine.receive(try partial([9, 9]).0)
        // Client 9's third beside clients 4 and 5 (a worker's first update of it this
        // version rides with the others): refusing it would cost theirs.
        #expect(machine.receive(try partial([4, 9, 5]).0) == .hold(records: []))
        _ = try machine.applyBuffer()
        #expect(machine.state.accounting.applied == 5 && machine.state.accounting.rejectedTotal == 0)
    }

    @Test func withoutALimitOrForClientlessEntriesNothingIsHeldBack() throws {
        var unlimited = machine(share: nil)
        var limited = machine(share: 1)
        #expect(unlimited.receive(try partial([9, 9, 9, 9]).0) == .hold(records: []))
        #expect(unlimited.receive(try partial([9]).0) == .hold(records: []))
        // An older worker's partial names no clients: nothing to count.
        var clientless = PartialAggregate(dimension: base.spec.parameterCount)
        for _ in 0..<3 {
            try clientless.add(id: .random(), baseVersion: 0, weight: 1, delta: [Float](repeating: 1, count: base.spec.parameterCount))
        }
        #expect(limited.receive(.partial(clientless, settled: [])) == .hold(records: []))
        #expect(limited.bufferedUpdates == 3)
    }
}

/// The worker's side: a proven client's second and later updates from one base version travel
/// alone, so the coordinator can refuse them one by one; an unproven client's ride with the
/// rest (its id is only a claim), and so does every client's first from each base: an honest
/// client trains once per version it receives.
@Suite struct WorkerRepeatIsolationTests {
    let base = WorkerStateMachineTests()

    @Test(arguments: [true, false])
    func aProvenClientsSecondUpdateOfAVersionTravelsAlone(signed: Bool) throws {
        let issuer = SigningKey()
        var defences = UpdateDefences.off
        defences.updatesPerClientVersion = 4
        let settings = WorkerSettings(flushUpdates: 8, staleness: StalenessPolicy(), defences: defences, issuer: signed ? issuer.publicKey : nil)
        var machine = WorkerStateMachine(spec: base.spec, settings: settings)
        let expiry = UInt64(Date().timeIntervalSince1970) + 3600
        func send(_ client: UInt64, from version: ModelVersion = 0) throws -> (id: UpdateID, batches: [WorkerStateMachine.Batch]) {
            let update = try base.update(0.5, base: version, client: client)
            var properties = MessageProperties()
            if signed {
                properties = PipelineMessage.signed(update: properties, body: update.body, by: .issue(clientID: client, notAfter: expiry, by: issuer))
            }
            guard case .added(let batches) = machine.receive(update.body, properties: properties, redelivered: false) else {
                Issue.record("update of client \(client) refused")
                return (update.id, [])
            }
            return (update.id, batches)
        }
        let first = try send(3)
        let other = try send(4)
        #expect(first.batches.isEmpty && other.batches.isEmpty)
        let second = try send(3)
        if signed {
            // What was open goes first, then client 3's second update alone.
            #expect(second.batches.map(\.partial.updateIDs) == [[first.id, other.id], [second.id]])
            #expect(second.batches.last?.partial.entries.map(\.clientID) == [3])
        } else {
            #expect(second.batches.isEmpty)
            #expect(machine.takeBatch()?.partial.updateIDs == [first.id, other.id, second.id])
        }
        // An honest client's next update comes from a newer version: it rides with the others.
        machine.heard(1)
        let next = try send(4, from: 1)
        let newer = try send(4, from: 2)
        #expect(next.batches.isEmpty && newer.batches.isEmpty)
        #expect(machine.takeBatch()?.partial.updateIDs == [next.id, newer.id])
    }
}
