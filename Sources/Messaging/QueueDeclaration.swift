import FedCore

/// An AMQP queue declaration: flags plus the `x-` arguments the pipeline relies on.
public struct QueueDeclaration: Sendable, Hashable {
    /// The name, or empty for a broker-generated one (`amq.gen-…`).
    public var name: String
    /// Survives a broker restart.
    public var durable: Bool
    /// Owned by the declaring connection and deleted with it.
    public var exclusive: Bool
    /// Deleted when its last consumer goes (after it had one).
    public var autoDelete: Bool
    public var arguments: QueueArguments

    public init(
        name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: QueueArguments = QueueArguments()
    ) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }
}

/// The queue arguments FedQueue uses, typed; `table` gives RabbitMQ's `x-` names.
public struct QueueArguments: Sendable, Hashable {
    /// What happens when a queue at `x-max-length` receives another message.
    public enum Overflow: String, Sendable, Hashable {
        /// Drop (or dead-letter) the oldest ready message: a client's model queue keeps
        /// only the newest version.
        case dropHead = "drop-head"
        /// Refuse the new message: the publisher's confirm is a nack.
        case rejectPublish = "reject-publish"
    }

    /// RabbitMQ's queue types; quorum queues replicate, streams are append-only logs.
    public enum QueueType: String, Sendable, Hashable {
        case classic, quorum, stream
    }

    /// `x-queue-type`; nil leaves the broker's default (classic).
    public var queueType: QueueType?
    /// `x-max-length`: the most ready messages the queue holds.
    public var maxLength: Int?
    /// `x-overflow`, used with `maxLength`.
    public var overflow: Overflow?
    /// `x-dead-letter-exchange`: where rejected, nacked-without-requeue and dropped-head
    /// messages go, with an `x-death` header saying why.
    public var deadLetterExchange: String?
    /// `x-dead-letter-routing-key`; nil keeps the message's own key.
    public var deadLetterRoutingKey: String?
    /// `x-single-active-consumer`: only one consumer receives at a time, the others are
    /// standbys (the coordinator's partials queue).
    public var singleActiveConsumer: Bool
    /// `x-quorum-initial-group-size`: how many nodes replicate a new quorum queue (the
    /// broker uses every node when the cluster has fewer).
    public var initialGroupSize: Int?
    /// `x-queue-leader-locator`: `balanced` places a new quorum queue's leader on the node
    /// leading the fewest, so the shards of the updates path spread over a cluster.
    public var leaderLocator: String?
    /// `x-max-length-bytes`: on a stream, the retention (whole segments beyond it are dropped).
    public var maxLengthBytes: Int?
    /// `x-stream-max-segment-size-bytes`: a stream's segment files (RabbitMQ's default 500 MB).
    public var maxSegmentSizeBytes: Int?

    public init(
        queueType: QueueType? = nil, maxLength: Int? = nil, overflow: Overflow? = nil,
        deadLetterExchange: String? = nil, deadLetterRoutingKey: String? = nil,
        singleActiveConsumer: Bool = false, initialGroupSize: Int? = nil, leaderLocator: String? = nil
    ) {
        self.initialGroupSize = initialGroupSize
        self.leaderLocator = leaderLocator
        self.queueType = queueType
        self.maxLength = maxLength
        self.overflow = overflow
        self.deadLetterExchange = deadLetterExchange
        self.deadLetterRoutingKey = deadLetterRoutingKey
        self.singleActiveConsumer = singleActiveConsumer
    }

    /// The AMQP arguments table, as a RabbitMQ implementation sends it in `queue.declare`.
    public var table: [String: HeaderValue] {
        var table: [String: HeaderValue] = [:]
        if let queueType { table["x-queue-type"] = .string(queueType.rawValue) }
        if let maxLength { table["x-max-length"] = .int(Int64(maxLength)) }
        if let overflow { table["x-overflow"] = .string(overflow.rawValue) }
        if let deadLetterExchange { table["x-dead-letter-exchange"] = .string(deadLetterExchange) }
        if let deadLetterRoutingKey { table["x-dead-letter-routing-key"] = .string(deadLetterRoutingKey) }
        if singleActiveConsumer { table["x-single-active-consumer"] = .bool(true) }
        if let initialGroupSize { table["x-quorum-initial-group-size"] = .int(Int64(initialGroupSize)) }
        if let leaderLocator { table["x-queue-leader-locator"] = .string(leaderLocator) }
        if let maxLengthBytes { table["x-max-length-bytes"] = .int(Int64(maxLengthBytes)) }
        if let maxSegmentSizeBytes { table["x-stream-max-segment-size-bytes"] = .int(Int64(maxSegmentSizeBytes)) }
        return table
    }
}
