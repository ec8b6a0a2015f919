import Messaging
import TestSupport
import Testing

@testable import Roles

/// One reader per stream shard, on the embedded broker and on RabbitMQ: a claim is held
/// by one connection, and freed when that connection dies (kill -9 included: the broker
/// sees the socket close).
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(2)))
struct ShardClaimTests {
    @Test(arguments: TestTransport.allCases)
    func aShardHasOneClaimantUntilItsConnectionEnds(on broker: TestTransport) async throws {
        let connector = try broker.connector()
        defer { Task { await connector.close() } }
        let first = try await connector.connect()
        let second = try await connector.connect()
        let shard = Int.random(in: 1_000...9_999)  // apart from any other test's
        let held = try #require(try await ShardClaim.take(shard: shard, on: first))
        #expect(held.shard == shard && held.id != 0)
        #expect(try await ShardClaim.take(shard: shard, on: second) == nil)
        // The refusal cost the second worker nothing: it can claim another shard.
        let other = try #require(try await ShardClaim.take(shard: shard + 1, on: second))
        #expect(other.id != held.id)
        await first.close()
        let taken = try await ShardClaim.take(shard: shard, on: second)
        #expect(taken?.shard == shard)
        await second.close()
    }
}
