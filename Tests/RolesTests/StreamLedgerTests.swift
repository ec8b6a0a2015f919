import Messaging
@testable import Roles
import Foundation
import Testing

/// The stream path's once-only rule, without a broker: which partials of a shard are
/// merged, and where a new owner starts reading.
@Suite struct StreamLedgerTests {
    @Test func contiguousPartialsUnderTheClaimAreAcceptedAndRedeliveredOnesAreCopies() {
        var ledger = StreamLedger()
        #expect(ledger.claim(7, shard: 0) == .first)
        #expect(ledger.judge(shard: 0, claim: 7, first: 0, last: 63) == .accept)
        #expect(ledger.judge(shard: 0, claim: 7, first: 64, last: 90) == .accept)
        ledger.settle(shard: 0, claim: 7, first: 0, last: 63)
        ledger.settle(shard: 0, claim: 7, first: 64, last: 90)
        // Acknowledged, yet the broker hands them out again (a consumer that died between
        // the ack and its arrival): copies.
        #expect(ledger.judge(shard: 0, claim: 7, first: 0, last: 63) == .copy)
        #expect(ledger.judge(shard: 0, claim: 7, first: 64, last: 90) == .copy)
        #expect(ledger.shards[0] == StreamLedger.Shard(through: 90, claim: 7))
        #expect(ledger.resumePoint(shard: 0) == .offset(91))
    }

    /// FedBuff holds partials unacknowledged until its buffer applies. The checkpoint can
    /// be written meanwhile (another partial's records), so it may say a shard went
    /// through 90 while the partial of 64…90 is still held: after a crash that partial
    /// comes back and must be taken again, even if a new claim was made since.
    @Test func aHeldPartialIsTakenAgainUntilItsBufferIsSettled() {
        var ledger = StreamLedger()
        _ = ledger.claim(7, shard: 0)
        #expect(ledger.judge(shard: 0, claim: 7, first: 0, last: 63) == .accept)
        ledger.settle(shard: 0, claim: 7, first: 0, last: 63)
        #expect(ledger.judge(shard: 0, claim: 7, first: 64, last: 90) == .accept)
        #expect(ledger.holdsPartials)
        #expect(ledger.claim(8, shard: 0) == .offset(91))
        #expect(ledger.judge(shard: 0, claim: 7, first: 64, last: 90) == .accept)
        #expect(ledger.judge(shard: 0, claim: 7, first: 0, last: 63) == .superseded)
        // Settling another range leaves this one held.
        ledger.settle([0: [StreamLedger.Held(claim: 7, first: 0, last: 63)]])
        #expect(ledger.holdsPartials)
        ledger.settle([0: [StreamLedger.Held(claim: 7, first: 64, last: 90)]])
        #expect(!ledger.holdsPartials)
        #expect(ledger.judge(shard: 0, claim: 7, first: 64, last: 90) == .superseded)
        #expect(ledger.judge(shard: 0, claim: 8, first: 64, last: 90) == .copy)
        #expect(ledger.judge(shard: 0, claim: 8, first: 91, last: 95) == .accept)
    }

    @Test func aHoleOrAnOverlapIsAGapAndMovesNothing() {
        var ledger = StreamLedger()
        _ = ledger.claim(1, shard: 2)
        #expect(ledger.judge(shard: 2, claim: 1, first: 10, last: 19) == .accept)
        #expect(ledger.judge(shard: 2, claim: 1, first: 25, last: 30) == .gap(expected: 20))
        #expect(ledger.judge(shard: 2, claim: 1, first: 15, last: 30) == .gap(expected: 20))
        #expect(ledger.judge(shard: 2, claim: 1, first: 20, last: 30) == .accept)
        #expect(ledger.shards[2]?.through == 30)
    }

    /// A worker dies with a partial in the partials queue; another claims the shard. The
    /// partial queued before the claim is merged and the new owner starts after it; one
    /// the old owner sent after the claim (it was only presumed dead) is superseded, and
    /// its updates are read again by the new owner.
    @Test func aNewClaimResumesAfterWhatItsPredecessorGotIn() {
        var ledger = StreamLedger()
        _ = ledger.claim(1, shard: 0)
        #expect(ledger.judge(shard: 0, claim: 1, first: 0, last: 49) == .accept)
        #expect(ledger.judge(shard: 0, claim: 1, first: 50, last: 80) == .accept)
        #expect(ledger.claim(2, shard: 0) == .offset(81))
        #expect(ledger.judge(shard: 0, claim: 1, first: 81, last: 99) == .superseded)
        #expect(ledger.judge(shard: 0, claim: 2, first: 81, last: 120) == .accept)
        // Shards are independent.
        #expect(ledger.judge(shard: 1, claim: 2, first: 0, last: 5) == .superseded)
        #expect(ledger.resumePoint(shard: 1) == .first)
    }

    @Test func theLedgerSurvivesItsCheckpointEncoding() throws {
        var ledger = StreamLedger()
        _ = ledger.claim(.max, shard: 3)
        _ = ledger.judge(shard: 3, claim: .max, first: 0, last: UInt64(1) << 40)
        #expect(ledger.shards[3]?.held.count == 1)
        let restored = try JSONDecoder().decode(StreamLedger.self, from: JSONEncoder().encode(ledger))
        #expect(restored == ledger)
        #expect(restored.resumePoint(shard: 3) == .offset((UInt64(1) << 40) + 1))
    }
}
