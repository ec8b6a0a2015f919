/// How the updates path is split over S quorum queues (`--update-shards S`, issue 18).
///
/// One quorum queue has one leader, and its write-ahead log is what caps a RabbitMQ node
/// (BENCHMARKS.md): S queues whose leaders sit on different nodes of a cluster spread
/// that load. Routing is by **slot**: a client publishes to the direct exchange
/// `fedq.updates` with routing key `fedq.updates.<slot>`, `slot = clientID mod 64`, and
/// shard `k` is bound to the slots `s` with `s mod S == k`.
///
/// Why slots rather than the alternatives the issue names:
/// - a routing key the client computes from S would make every client of the federation
///   (written in any language, updated on its own schedule) know S, and one that
///   disagrees would publish to a key nothing is bound to;
/// - RabbitMQ's `x-consistent-hash` exchange does the same without S, but needs a plugin
///   enabled on every node, a new exchange type (an existing direct `fedq.updates`
///   cannot be redeclared as one), and the embedded broker would have to reimplement it.
///
/// With slots a client only computes `clientID mod 64`; S is the operator's choice,
/// made in the bindings. All updates of one client go to one shard, so the shard's
/// workers see that client's replays (`RecentIDs`) and rate (`ClientRateLimit`) whole.
/// The key `fedq.updates` of older clients stays bound to shard 0.
public struct UpdateShards: Sendable, Hashable, CustomStringConvertible {
    /// Routing slots: the most shards there can be. A 3- or 5-node cluster wants a few.
    public static let slotCount = 64
    /// The one updates queue of an unsharded deployment (today's topology, unchanged).
    public static let single = UpdateShards(uncheckedCount: 1)

    /// S, in 1...64.
    public let count: Int
    /// What each shard's queue is (`--updates-queue`): quorum queues with competing
    /// workers, or streams each read by the one worker holding its claim.
    public var queueType: UpdatesQueueType = .quorum

    /// - Throws: `UpdateShardsError` for a count outside 1...64.
    public init(_ count: Int) throws(UpdateShardsError) {
        guard (1...Self.slotCount).contains(count) else { throw .outOfRange(count) }
        self.count = count
    }

    private init(uncheckedCount count: Int) { self.count = count }

    /// The routing key of a client's updates, whatever S is.
    public static func routingKey(client: UInt64) -> String {
        "\(PipelineTopology.updatesRoutingKey).\(client % UInt64(slotCount))"
    }

    /// Shard `k`'s queue: shard 0 keeps the unsharded name, so S = 1 is today's topology.
    public static func queue(_ shard: Int) -> String {
        shard == 0 ? PipelineTopology.updatesQueue : "\(PipelineTopology.updatesQueue).\(shard)"
    }

    /// Every shard's queue, shard 0 first.
    public var queues: [String] { (0..<count).map(Self.queue) }

    /// The shard a client's updates land in.
    public func shard(ofClient client: UInt64) -> Int { Int(client % UInt64(Self.slotCount)) % count }

    /// The routing keys shard `k` is bound with: its slots, and for shard 0 the key
    /// older clients publish with.
    public func bindingKeys(of shard: Int) -> [String] {
        let slots = stride(from: shard, to: Self.slotCount, by: count).map { "\(PipelineTopology.updatesRoutingKey).\($0)" }
        return shard == 0 ? [PipelineTopology.updatesRoutingKey] + slots : slots
    }

    public var description: String { "\(count)" }

    /// The same shards, as queues of `type`.
    public func with(_ type: UpdatesQueueType) -> UpdateShards {
        var shards = self
        shards.queueType = type
        return shards
    }
}

/// The queue type of the updates path (`--updates-queue`; docs/cluster.md, BENCHMARKS.md).
///
/// - `quorum`: replicated, consumed away, competing workers on each shard (the default).
/// - `stream`: an append-only replicated log per shard, read from an offset; each shard has
///   one reader at a time (`ShardClaim`) and the coordinator takes its offsets exactly once
///   (`StreamLedger`). A stream is not consumed away: it keeps what retention allows.
/// - `classic`: one node's unreplicated queue, for comparison only: a node lost loses its updates.
public enum UpdatesQueueType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case quorum, stream, classic

    public var description: String { rawValue }

    /// `--updates-queue`'s value.
    public init(parsing value: String) throws(UpdateShardsError) {
        guard let type = UpdatesQueueType(rawValue: value) else { throw .unknownQueueType(value) }
        self = type
    }
}

/// A bad `--update-shards` or `--updates-queue`.
public enum UpdateShardsError: Error, Equatable, CustomStringConvertible {
    case outOfRange(Int)
    case unknownQueueType(String)

    public var description: String {
        switch self {
        case .outOfRange(let count): "--update-shards must be in 1...\(UpdateShards.slotCount), got \(count)"
        case .unknownQueueType(let value): "--updates-queue must be quorum, stream or classic, got '\(value)'"
        }
    }
}
