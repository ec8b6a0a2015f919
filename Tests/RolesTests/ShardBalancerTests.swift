import Testing

@testable import Roles

/// Rebalancing a stream path's shards, as decisions without I/O: who is asked to release
/// which shard when a worker finds none free.
struct ShardBalancerTests {
    typealias Holders = [Int: (claim: UInt64, worker: UInt64)]
    let start = ContinuousClock.now

    /// Plays wants against a ledger until nothing moves: each release is followed by the
    /// wanting worker claiming the shard (as the freed shard goes to it), and the next want
    /// comes an interval later. Returns each worker's shard count.
    func settle(_ holders: inout Holders, wanting order: [UInt64], balancer: inout ShardBalancer) -> [UInt64: Int] {
        var now = start
        var idle = 0
        var index = 0
        while idle < order.count {
            let worker = order[index % order.count]
            index += 1
            if let (shard, claim) = balancer.want(from: worker, holders: holders, now: now) {
                #expect(holders[shard]?.claim == claim, "the release names the holder's claim")
                holders[shard] = (claim &+ 1_000, worker)
                balancer.claimed(shard: shard)
                idle = 0
            } else {
                idle += 1
            }
            now += balancer.interval
        }
        return holders.values.reduce(into: [:]) { $0[$1.worker, default: 0] += 1 }
    }

    @Test func aLateWorkerGetsHalfOfEightShardsFromTheOneHoldingAll() {
        var holders: Holders = Dictionary(uniqueKeysWithValues: (0..<8).map { ($0, (UInt64(100 + $0), UInt64(1))) })
        var balancer = ShardBalancer()
        // The first want takes the highest shard of the worker holding the most.
        let first = balancer.want(from: 2, holders: holders, now: start)
        #expect(first?.shard == 7 && first?.claim == 107)
        // Within the interval nothing more is asked; the pending shard is not counted twice.
        #expect(balancer.want(from: 2, holders: holders, now: start + .milliseconds(500)) == nil)
        #expect(balancer.pending.keys.sorted() == [7])
        holders[7] = (900, 2)
        balancer.claimed(shard: 7)
        #expect(balancer.pending.isEmpty)
        var fresh = ShardBalancer()
        #expect(settle(&holders, wanting: [2, 1], balancer: &fresh) == [1: 4, 2: 4])
    }

    @Test func aThirdWorkerLeavesNoTwoWorkersMoreThanOneShardApart() {
        var holders: Holders = Dictionary(uniqueKeysWithValues: (0..<8).map { ($0, (UInt64(100 + $0), UInt64($0 < 4 ? 1 : 2))) })
        var balancer = ShardBalancer()
        let counts = settle(&holders, wanting: [3, 1, 2], balancer: &balancer)
        #expect(counts.values.sorted() == [2, 3, 3], "\(counts)")
        #expect(counts[3] == 2)
    }

    @Test(arguments: [
        // Already even, or one apart: nothing to gain by moving a shard.
        ([0: 1, 1: 1, 2: 2, 3: 2] as [Int: UInt64], UInt64(1)),
        ([0: 1, 1: 1, 2: 2] as [Int: UInt64], UInt64(2)),
        // The wanting worker holds the most itself.
        ([0: 1, 1: 1, 2: 1, 3: 2] as [Int: UInt64], UInt64(1)),
        // One shard, two workers.
        ([0: 1] as [Int: UInt64], UInt64(2)),
    ])
    func nothingMovesWhenTheShardsAreAsEvenAsTheyCanBe(owners: [Int: UInt64], wanting: UInt64) {
        var balancer = ShardBalancer()
        let holders = owners.mapValues { (claim: UInt64(7), worker: $0) }
        #expect(balancer.want(from: wanting, holders: holders, now: start) == nil)
        #expect(balancer.pending.isEmpty)
    }

    @Test func aReleaseNotFollowedByAClaimIsForgottenAfterItsTimeout() {
        let holders: Holders = [0: (10, 1), 1: (11, 1), 2: (12, 1)]
        var balancer = ShardBalancer(interval: .seconds(1), pendingTimeout: .seconds(5))
        #expect(balancer.want(from: 2, holders: holders, now: start)?.shard == 2)
        // Shard 2 is pending: worker 1 counts 2 shards against worker 2's 0, so shard 1 goes next.
        #expect(balancer.want(from: 2, holders: holders, now: start + .seconds(2))?.shard == 1)
        // Neither was claimed again (their holder died, say): both are forgotten after the
        // timeout and may be asked for again.
        #expect(balancer.want(from: 2, holders: holders, now: start + .seconds(8))?.shard == 2)
        #expect(balancer.pending.keys.sorted() == [2])
    }

    @Test func tiesGoToTheSmallerWorkerID() {
        let holders: Holders = [0: (10, 9), 1: (11, 9), 2: (12, 4), 3: (13, 4)]
        var balancer = ShardBalancer()
        #expect(balancer.want(from: 5, holders: holders, now: start)?.shard == 3, "worker 4's highest shard")
    }
}
