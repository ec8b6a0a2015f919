import Messaging
import Testing

@testable import Roles

/// What a stream shard's reader decides from the offsets it is handed, without I/O: which
/// messages come before where it was sent (skipped), and which offsets the stream's
/// retention removed before it got to them (updates lost).
struct UpdateSourceTests {
    func source(from offset: StreamOffset) -> UpdateSource {
        .stream(UpdateSource.StreamShard(claim: ShardClaim(shard: 3, id: 42), from: offset))
    }

    @Test func aReaderSkipsWhatComesBeforeItsOffsetOnly() {
        #expect(source(from: .offset(10)).skips(offset: 9))
        #expect(!source(from: .offset(10)).skips(offset: 10))
        #expect(!source(from: .first).skips(offset: 0))
        #expect(!UpdateSource.queues.skips(offset: 0))
    }

    @Test func theFirstMessageIsExpectedWhereTheReaderWasSent() {
        #expect(source(from: .offset(100)).expectedStart == 100)
        // Nothing accepted yet: the stream's start.
        #expect(source(from: .first).expectedStart == 0)
        // A reader of `.next` expects nothing in particular; queues have no offsets.
        #expect(source(from: .next).expectedStart == nil)
        #expect(UpdateSource.queues.expectedStart == nil)
        #expect(UpdateSource.chunks.expectedStart == nil)
    }

    @Test func retentionLossIsWhatLiesBetweenTheExpectedOffsetAndTheOneRead() {
        // Sent to 100, first handed 2,600: 100…2,599 were removed before they were read.
        #expect(UpdateSource.removedByRetention(expected: 100, read: 2_600) == 100..<2_600)
        // Mid-stream: after 5,000 came 7,500.
        #expect(UpdateSource.removedByRetention(expected: 5_001, read: 7_500) == 5_001..<7_500)
    }

    @Test func noLossWhenTheMessageIsTheExpectedOneOrOneOffsetOn() {
        #expect(UpdateSource.removedByRetention(expected: 100, read: 100) == nil)
        // One offset on: the tracking chunk that starts a segment file, not a message.
        #expect(UpdateSource.removedByRetention(expected: 100, read: 101) == nil)
        #expect(UpdateSource.removedByRetention(expected: 0, read: 0) == nil)
        // Before the expected offset is `skips`' business (the start of a chunk), not a loss.
        #expect(UpdateSource.removedByRetention(expected: 100, read: 40) == nil)
    }
}
