@testable import Roles
import Aggregation
import FedCore
import Foundation
import Learning
import Testing
import Wire

/// The coordinator holds each client to its share of an aggregate across every worker
/// (`FleetClientLimit`, `--max-client-rate`): a partial whose updates take a client beyond it
/// cannot be split, so the excess is booked `rate-limited` and the rest asked back, refused
/// with it only when there is no rest, or taken whole when nothing can be asked back. No
/// broker: the rules alone.
@Suite struct FleetClientLimitRulesTests {
    let base = CoordinatorStateMachineTests()
    let address = PartialReturn(worker: 0xFEED_0000_0000_0002, partial: 7)

    /// A FedBuff machine that applies at `buffer` updates, holding each client to `share`.
    func machine(share: Int? = 2, buffer: Int = 100) -> CoordinatorStateMachine {
        var machine = base.machine(.fedBuff(bufferSize: buffer))
        machine = CoordinatorStateMachine(state: machine.state, strategy: AggregationStrategy(.fedBuff(bufferSize: buffer)), updatesPerClient: share)
        return machine
    }

    /// A partial of one update per client in `clients`, each of delta `value(client)`.
    func partial(_ clients: [UInt64], ids: [UpdateID]? = nil) throws -> (CoordinatorStateMachine.Input, [UpdateID]) {
        let ids = ids ?? clients.map { _ in UpdateID.random() }
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

    @Test func anExcessBeyondTheShareIsBookedAndTheRestOfItsPartialAskedBackAndCounted() throws {
        var machine = machine()
        // One worker's partial: client 9 twice (its share), client 1 once. Buffered.
        let (first, _) = try partial([9, 1, 9])
        #expect(machine.receive(first, returnTo: address, unixTime: 1_000) == .hold(records: []))
        // Another worker's: client 9 again beside clients 2 and 3.
        let (second, ids) = try partial([2, 9, 3])
        let other = PartialReturn(worker: 0xFEED_0000_0000_0003, partial: 1)
        guard case .returnUpdates(.rateLimited, let detail, let records) = machine.receive(second, returnTo: other, unixTime: 1_000) else {
            Issue.record("a partial beyond client 9's share was taken")
            return
        }
        #expect(records.map(\.id) == [ids[1]] && records.map(\.reason) == [.rateLimited])
        #expect(detail.contains("1 of 3 updates beyond their client's 2") && detail.contains("the other 2 asked back"))
        #expect(machine.state.pendingReturns.map(\.address) == [other])
        #expect(machine.state.pendingReturns.first?.entries.map(\.id) == [ids[0], ids[2]])
        // The worker sums each again alone: clients 2 and 3 count, client 9's copy settles with its booking.
        for (client, id) in zip([UInt64(2), 9, 3], ids) {
            let (single, _) = try partial([client], ids: [id])
            let action = machine.receive(single, returnTo: PartialReturn(worker: other.worker, partial: 2 + UInt64(id.low % 100)), unixTime: 1_001)
            #expect(action == (client == 9 ? .acknowledge(records: []) : .hold(records: [])), "client \(client)")
        }
        #expect(machine.settleReturns(unixTime: 1_002).changed)
        let applied = try #require(try machine.applyBuffer())
        #expect(applied.records.count == 5 && machine.state.accounting.applied == 5)
        #expect(machine.state.accounting.rejected == [.rateLimited: 1])
        // Two updates of 1 and three of 0.01, drained short of FedBuff's K = 100, which it divides by.
        #expect(abs(machine.state.model.parameters[0] - 2.03 / 100) < 1e-6)
        // A new aggregate: client 9 has its share again.
        let (next, _) = try partial([9, 9])
        #expect(machine.receive(next, returnTo: address, unixTime: 1_003) == .hold(records: []))
    }

    /// Updates asked back that never come (the worker restarted) are booked under the reason
    /// their partial was parked for, once its deadline passes; a checkpoint's request from
    /// before reasons were kept books `duplicate`, as it did then.
    @Test func updatesAskedBackThatNeverComeAreBookedRateLimitedAtTheDeadline() throws {
        var machine = machine()
        _ = machine.receive(try partial([9, 9]).0)
        let (mixed, ids) = try partial([9, 5, 6])
        guard case .returnUpdates(.rateLimited, _, _) = machine.receive(mixed, returnTo: address, unixTime: 1_000) else {
            Issue.record("not asked back")
            return
        }
        #expect(machine.settleReturns(unixTime: 1_000 + CoordinatorStateMachine.returnWait - 1).records.isEmpty)
        let booked = machine.settleReturns(unixTime: 1_000 + CoordinatorStateMachine.returnWait).records
        #expect(booked.map(\.id) == [ids[1], ids[2]] && booked.map(\.reason) == [.rateLimited, .rateLimited])
        #expect(machine.state.accounting.rejected == [.rateLimited: 3] && machine.state.pendingReturns.isEmpty)
        let old = try JSONDecoder().decode(
            PendingReturn.self, from: Data(#"{"address":{"worker":1,"partial":2},"entries":[],"deadline":5}"#.utf8))
        #expect(old.reason == .duplicate)
        let kept = try JSONDecoder().decode(PendingReturn.self, from: JSONEncoder().encode(machine.state.pendingReturns.first ?? PendingReturn(
            address: address, entries: [], deadline: 1, reason: .rateLimited)))
        #expect(kept.reason == .rateLimited)
    }

    @Test func aPartialOfExcessAloneIsRefusedWholeAndOneWithoutAnAddressIsTakenWhole() throws {
        var machine = machine()
        _ = machine.receive(try partial([9, 9]).0)
        // Nothing in it but client 9's excess: refused, booked, nobody else's update lost.
        let (excess, ids) = try partial([9, 9])
        guard case .deadLetter(.rateLimited, _, let records) = machine.receive(excess, returnTo: address, unixTime: 1_000) else {
            Issue.record("a partial of excess alone was not refused")
            return
        }
        #expect(records.map(\.id) == ids && machine.state.pendingReturns.isEmpty)
        // Beside client 4's update, with no address to ask it back from (an unsigned worker
        // keeps no shelf): taken whole, since refusing it would cost client 4's update.
        let (mixed, _) = try partial([4, 9])
        #expect(machine.receive(mixed, returnTo: nil, unixTime: 1_000) == .hold(records: []))
        _ = try machine.applyBuffer()
        #expect(machine.state.accounting.applied == 4 && machine.state.accounting.rejected == [.rateLimited: 2])
    }

    @Test func withoutALimitOrForClientlessEntriesNothingIsHeldBack() throws {
        var unlimited = machine(share: nil)
        var limited = machine(share: 1)
        let (flood, _) = try partial([9, 9, 9, 9])
        #expect(unlimited.receive(flood) == .hold(records: []))
        // An older worker's partial names no clients: nothing to count.
        var clientless = PartialAggregate(dimension: base.spec.parameterCount)
        for _ in 0..<3 {
            try clientless.add(id: .random(), baseVersion: 0, weight: 1, delta: [Float](repeating: 1, count: base.spec.parameterCount))
        }
        #expect(limited.receive(.partial(clientless, settled: [])) == .hold(records: []))
        #expect(limited.bufferedUpdates == 3)
    }
}
