import FedCore
import Messaging

/// The exchanges and queues the roles meet at, as declared in
/// `topology/definitions.json` (the file RabbitMQ imports): updates go
/// through a direct exchange to one queue (or S shards, `UpdateShards`) that
/// aggregator workers compete on, partials to a single-active-consumer queue the coordinator owns,
/// model versions out on a fanout, and refused messages to a dead-letter
/// exchange.
public enum PipelineTopology {
    // Queues and exchanges never share a name. RabbitMQ's permissions are regular
    // expressions over names, whatever the resource's type: had the updates queue been
    // called `fedq.updates` like its exchange, a client's write permission on the exchange
    // would also let it bind that queue to anything it may read (docs/security.md).
    public static let updatesExchange = "fedq.updates"
    public static let updatesQueue = "fedq.q.updates"
    public static let updatesRoutingKey = "fedq.updates"
    /// Chunks of updates longer than a client's chunk size (docs/wire-format.md, "Chunks"):
    /// a queue with a single active consumer, so one worker gets every chunk of an update
    /// (`AggregatorWorker+Chunks.swift` says why).
    public static let updateChunksExchange = "fedq.update-chunks"
    public static let updateChunksQueue = "fedq.q.update-chunks"
    public static let updateChunksRoutingKey = "fedq.update-chunks"
    public static let partialsExchange = "fedq.partials"
    public static let partialsQueue = "fedq.q.partials"
    public static let partialsRoutingKey = "fedq.partials"
    public static let modelsExchange = "fedq.models"
    /// Version announcements without the model (headers only): workers need the newest
    /// version number to weigh staleness, not 800 KB of parameters per version each.
    public static let versionsExchange = "fedq.versions"
    public static let deadExchange = "fedq.dead"
    public static let deadQueue = "fedq.q.dead"
    /// Late joiners ask the coordinator for the current model here (request/reply: the
    /// answer goes to the requester's own model queue named in `reply_to`). An exchange of
    /// its own, not the default one: write permission on the default exchange would let a
    /// client publish into any queue by name, `fedq.q.partials` included.
    public static let modelRequestsExchange = "fedq.model-requests"
    public static let modelRequestsQueue = "fedq.q.model-requests"
    public static let modelRequestsRoutingKey = "fedq.model-requests"
    /// A table federation's clients send their feature statistics here before the first
    /// model version (docs/wire-format.md, "Statistics message"); the coordinator alone
    /// reads them. A queue of its own, not the updates path: statistics are no update,
    /// workers must never aggregate them, and the coordinator needs them before any exist.
    public static let statisticsExchange = "fedq.statistics"
    public static let statisticsQueue = "fedq.q.statistics"
    public static let statisticsRoutingKey = "fedq.statistics"

    /// Whether `queue` is a subscriber's own model queue (server-named, `amq.gen-…`), the
    /// only kind the coordinator answers a model request into.
    public static func isSubscriberQueue(_ queue: String) -> Bool {
        queue.hasPrefix("amq.gen-") && queue.count > "amq.gen-".count && queue.utf8.count <= 255
    }

    /// The shared exchanges, as `topology/definitions.json` declares them.
    static let exchanges: [ExchangeDeclaration] = [
        ExchangeDeclaration(name: updatesExchange, kind: .direct),
        ExchangeDeclaration(name: updateChunksExchange, kind: .direct),
        ExchangeDeclaration(name: partialsExchange, kind: .direct),
        ExchangeDeclaration(name: modelsExchange, kind: .fanout),
        ExchangeDeclaration(name: versionsExchange, kind: .fanout),
        ExchangeDeclaration(name: deadExchange, kind: .fanout),
        ExchangeDeclaration(name: modelRequestsExchange, kind: .direct),
        ExchangeDeclaration(name: statisticsExchange, kind: .direct),
    ]

    /// The shared queues with the bindings that feed each one, for an updates path of
    /// `shards` queues (`UpdateShards`; one, `fedq.q.updates`, unless sharded).
    ///
    /// Every shared queue is a quorum queue: on a cluster it is replicated over 3 nodes
    /// (`x-quorum-initial-group-size`; every node when there are fewer), so the loss of a
    /// minority of nodes loses no queue and no message, and a 5- or 7-node cluster keeps
    /// each queue's replication cost at 3 copies. Leaders are placed `balanced`: each new
    /// queue's leader goes to the node leading the fewest, which is what spreads the
    /// update shards' write load over the nodes.
    public static func queues(shards: UpdateShards = .single) -> [(queue: QueueDeclaration, exchange: String, routingKeys: [String])] {
        var quorum = QueueArguments()
        quorum.queueType = .quorum
        quorum.initialGroupSize = 3
        quorum.leaderLocator = "balanced"
        var updates = quorum
        updates.deadLetterExchange = deadExchange
        switch shards.queueType {
        case .quorum: break
        case .stream:
            // Streams take no dead-letter exchange (refusals are parked by the worker
            // anyway) and keep what retention allows, `streamRetentionBytes` per shard.
            updates = QueueArguments(queueType: .stream, leaderLocator: "balanced")
            updates.maxLengthBytes = streamRetentionBytes
        case .classic:
            updates = QueueArguments(deadLetterExchange: deadExchange)
        }
        var partials = quorum
        partials.singleActiveConsumer = true
        partials.deadLetterExchange = deadExchange
        let updateQueues = (0..<shards.count).map { shard in
            (QueueDeclaration(name: UpdateShards.queue(shard), arguments: updates), updatesExchange, shards.bindingKeys(of: shard))
        }
        var chunks = partials
        chunks.deadLetterExchange = deadExchange
        return updateQueues + [
            (QueueDeclaration(name: updateChunksQueue, arguments: chunks), updateChunksExchange, [updateChunksRoutingKey]),
            (QueueDeclaration(name: partialsQueue, arguments: partials), partialsExchange, [partialsRoutingKey]),
            (QueueDeclaration(name: deadQueue, arguments: quorum), deadExchange, [""]),
            (QueueDeclaration(name: modelRequestsQueue, arguments: quorum), modelRequestsExchange, [modelRequestsRoutingKey]),
            (QueueDeclaration(name: statisticsQueue, arguments: quorum), statisticsExchange, [statisticsRoutingKey]),
        ]
    }

    /// What a stream shard of the updates path keeps (`x-max-length-bytes`): RabbitMQ drops
    /// whole segments beyond it, oldest first. 8 GiB is 40,000 updates of 200 KB: minutes
    /// of a saturated node, hours of an ordinary federation. It must exceed what the
    /// slowest reader lags behind (docs/cluster.md, "Retention").
    public static let streamRetentionBytes = 8 << 30

    /// Declares the shared part of the topology (idempotent), as an administrator (or the
    /// embedded broker's in-process setup) does. Needs configure permission on everything.
    ///
    /// Bindings only ever add up in RabbitMQ, so declaring S shards also takes each slot
    /// off every other update queue there is (of an earlier S): a slot bound to two
    /// queues would deliver each update twice. Change S with the updates path drained:
    /// what waits in a shard that is no longer declared stays there, unconsumed.
    public static func declare(on transport: some Transport, shards: UpdateShards = .single) async throws(TransportError) {
        for exchange in exchanges { try await transport.declareExchange(exchange) }
        for (queue, exchange, keys) in queues(shards: shards) {
            try await transport.declareQueue(queue)
            for key in keys { try await transport.bindQueue(queue.name, exchange: exchange, routingKey: key) }
        }
        for shard in 0..<UpdateShards.slotCount {
            let queue = UpdateShards.queue(shard)
            if shard >= shards.count {
                // A passive check first: unbinding from a queue that is not there is an error.
                do { _ = try await transport.queueStatus(queue) } catch .notFound { continue }
            }
            let owned = Set(shard < shards.count ? shards.bindingKeys(of: shard) : [])
            for key in UpdateShards.single.bindingKeys(of: 0) where !owned.contains(key) {
                try await transport.unbindQueue(queue, exchange: updatesExchange, routingKey: key)
            }
        }
    }

    /// `declare`, and when an update queue stands with another type than `shards` asks
    /// (406: a queue's type cannot change), deletes every update queue (all 64 shard names)
    /// and declares again. For a broker that is the caller's own (a load test's, a test's):
    /// whatever waits in those queues is lost.
    public static func declareReplacingUpdateQueues(on transport: some Transport, shards: UpdateShards) async throws(TransportError) {
        do {
            try await declare(on: transport, shards: shards)
        } catch .preconditionFailed {
            for shard in 0..<UpdateShards.slotCount {
                do { try await transport.deleteQueue(UpdateShards.queue(shard)) } catch .notFound {}
            }
            try await declare(on: transport, shards: shards)
        }
    }

    /// What a role does at the start of every session: checks that each shared exchange
    /// and queue exists (a passive declare, which needs no permission) and declares only
    /// what is missing. A least-privilege identity may not declare anything; when
    /// something is missing it gets a `.notFound` naming it, which the role's supervisor
    /// retries (an administrator restores the topology with `fedq topology apply`) rather
    /// than exiting. An identity that may configure (the embedded broker, a test node's
    /// administrator) re-creates what an operator deleted and goes on.
    ///
    /// - Parameter shards: the update queues to check (`--update-shards`). A role left at
    ///   the default checks shard 0, `fedq.q.updates`, which every sharding has: clients
    ///   publish by slot and need not know how many shards the operator chose.
    public static func ensure(on transport: some Transport, shards: UpdateShards = .single) async throws(TransportError) {
        for exchange in exchanges {
            do {
                try await transport.checkExchange(exchange.name)
            } catch .notFound {
                try await createMissing("exchange '\(exchange.name)'") { () throws(TransportError) in
                    try await transport.declareExchange(exchange)
                }
            }
        }
        for (queue, exchange, keys) in queues(shards: shards) {
            do {
                _ = try await transport.queueStatus(queue.name)
            } catch .notFound {
                try await createMissing("queue '\(queue.name)'") { () throws(TransportError) in
                    try await transport.declareQueue(queue)
                    for key in keys { try await transport.bindQueue(queue.name, exchange: exchange, routingKey: key) }
                }
            }
        }
    }

    private static func createMissing(
        _ what: String, _ create: () async throws(TransportError) -> Void
    ) async throws(TransportError) {
        do {
            try await create()
        } catch .accessRefused {
            throw .notFound(
                "\(what) is missing and this identity may not declare it: an administrator restores it with `fedq topology apply`")
        }
    }

    /// Empties the shared queues. RabbitMQ's durable queues keep what an earlier run left
    /// (updates of a crashed run come back when its connections drop), which a run that
    /// accounts for every update it published must not pick up.
    ///
    /// A stream cannot be purged: its shards are deleted and declared again (with their bindings).
    public static func purge(on transport: some Transport, shards: UpdateShards = .single) async throws(TransportError) {
        let queues = shards.queueType == .stream ? [] : shards.queues
        for queue in queues + [updateChunksQueue, partialsQueue, deadQueue, modelRequestsQueue, statisticsQueue] {
            _ = try await transport.purgeQueue(queue)
        }
        guard shards.queueType == .stream else { return }
        for (queue, exchange, keys) in Self.queues(shards: shards) where shards.queues.contains(queue.name) {
            try await transport.deleteQueue(queue.name)
            _ = try await transport.declareQueue(queue)
            for key in keys { try await transport.bindQueue(queue.name, exchange: exchange, routingKey: key) }
        }
    }

    /// A private queue on the model fanout that only ever holds the newest
    /// version (`x-max-length: 1`, drop-head): a slow subscriber skips the
    /// versions it missed instead of working through a backlog.
    ///
    /// With `requestCurrent` it also asks the coordinator for the version it has now,
    /// answered into the same queue: a subscriber that joins between two versions
    /// need not wait for the next one (and one that starts before the coordinator
    /// gets its answer when the coordinator comes up).
    ///
    /// `messagesPerVersion`: how many messages one version travels as (its chunks,
    /// `ChunkedMessages.messagesPerModel`); the queue holds two versions' worth of them, so
    /// a version's chunks are never dropped while the one before is still being read.
    public static func subscribeToModels(
        on transport: some Transport, requestCurrent: Bool = false, messagesPerVersion: Int = 1
    ) async throws(TransportError) -> Consumer {
        let (queue, consumer) = try await newestOnly(
            from: modelsExchange, on: transport, maxLength: messagesPerVersion > 1 ? 2 * messagesPerVersion : 1)
        if requestCurrent {
            var properties = MessageProperties()
            properties.replyTo = queue
            try await transport.publish(
                [], exchange: modelRequestsExchange, routingKey: modelRequestsRoutingKey, properties: properties, mandatory: true)
        }
        return consumer
    }

    /// The same one-slot subscription to the version announcements (`versionsExchange`).
    public static func subscribeToVersions(on transport: some Transport) async throws(TransportError) -> Consumer {
        try await newestOnly(from: versionsExchange, on: transport).consumer
    }

    private static func newestOnly(
        from exchange: String, on transport: some Transport, maxLength: Int = 1
    ) async throws(TransportError) -> (queue: String, consumer: Consumer) {
        var arguments = QueueArguments()
        arguments.maxLength = maxLength
        arguments.overflow = .dropHead
        let queue = try await transport.declareQueue(
            QueueDeclaration(name: "", durable: false, exclusive: true, autoDelete: true, arguments: arguments))
        try await transport.bindQueue(queue.name, exchange: exchange, routingKey: "")
        return (queue.name, try await transport.consume(queue: queue.name, prefetch: 1, exclusive: true))
    }
}
