import FedCore
import Messaging

/// The exchanges and queues the roles meet at, as declared in
/// `topology/definitions.json` (the file RabbitMQ imports): updates go
/// through a direct exchange to one queue that aggregator workers compete
/// on, partials to a single-active-consumer queue the coordinator owns,
/// model versions out on a fanout, and refused messages to a dead-letter
/// exchange.
public enum PipelineTopology {
    public static let updatesExchange = "fedq.updates"
    public static let updatesQueue = "fedq.updates"
    public static let updatesRoutingKey = "fedq.updates"
    public static let partialsExchange = "fedq.partials"
    public static let partialsQueue = "fedq.partials"
    public static let partialsRoutingKey = "fedq.partials"
    public static let modelsExchange = "fedq.models"
    /// Version announcements without the model (headers only): workers need the newest
    /// version number to weigh staleness, not 800 KB of parameters per version each.
    public static let versionsExchange = "fedq.versions"
    public static let deadExchange = "fedq.dead"
    public static let deadQueue = "fedq.dead"
    /// Late joiners ask the coordinator for the current model here (request/reply: the
    /// answer goes to the requester's own model queue named in `reply_to`).
    public static let modelRequestsQueue = "fedq.model-requests"

    /// Declares the shared part of the topology (idempotent: every role may call it).
    public static func declare(on transport: some Transport) async throws(TransportError) {
        try await transport.declareExchange(ExchangeDeclaration(name: updatesExchange, kind: .direct))
        try await transport.declareExchange(ExchangeDeclaration(name: partialsExchange, kind: .direct))
        try await transport.declareExchange(ExchangeDeclaration(name: modelsExchange, kind: .fanout))
        try await transport.declareExchange(ExchangeDeclaration(name: versionsExchange, kind: .fanout))
        try await transport.declareExchange(ExchangeDeclaration(name: deadExchange, kind: .fanout))
        var updates = QueueArguments()
        updates.queueType = .quorum
        updates.deadLetterExchange = deadExchange
        try await transport.declareQueue(QueueDeclaration(name: updatesQueue, arguments: updates))
        // Every shared queue is a quorum queue: on a cluster it is replicated over the
        // nodes (RabbitMQ's default initial group size: all of them, up to 5 with
        // policies), so the loss of a minority of nodes loses no queue and no message.
        var partials = QueueArguments()
        partials.queueType = .quorum
        partials.singleActiveConsumer = true
        partials.deadLetterExchange = deadExchange
        try await transport.declareQueue(QueueDeclaration(name: partialsQueue, arguments: partials))
        var dead = QueueArguments()
        dead.queueType = .quorum
        try await transport.declareQueue(QueueDeclaration(name: deadQueue, arguments: dead))
        var requests = QueueArguments()
        requests.queueType = .quorum
        try await transport.declareQueue(QueueDeclaration(name: modelRequestsQueue, arguments: requests))
        try await transport.bindQueue(updatesQueue, exchange: updatesExchange, routingKey: updatesRoutingKey)
        try await transport.bindQueue(partialsQueue, exchange: partialsExchange, routingKey: partialsRoutingKey)
        try await transport.bindQueue(deadQueue, exchange: deadExchange, routingKey: "")
    }

    /// Empties the shared queues. RabbitMQ's durable queues keep what an earlier run left
    /// (updates of a crashed run come back when its connections drop), which a run that
    /// accounts for every update it published must not pick up.
    public static func purge(on transport: some Transport) async throws(TransportError) {
        for queue in [updatesQueue, partialsQueue, deadQueue, modelRequestsQueue] { try await transport.purgeQueue(queue) }
    }

    /// A private queue on the model fanout that only ever holds the newest
    /// version (`x-max-length: 1`, drop-head): a slow subscriber skips the
    /// versions it missed instead of working through a backlog.
    ///
    /// With `requestCurrent` it also asks the coordinator for the version it has now,
    /// answered into the same queue: a subscriber that joins between two versions
    /// need not wait for the next one (and one that starts before the coordinator
    /// gets its answer when the coordinator comes up).
    public static func subscribeToModels(
        on transport: some Transport, requestCurrent: Bool = false
    ) async throws(TransportError) -> Consumer {
        let (queue, consumer) = try await newestOnly(from: modelsExchange, on: transport)
        if requestCurrent {
            var properties = MessageProperties()
            properties.replyTo = queue
            try await transport.publish([], exchange: "", routingKey: modelRequestsQueue, properties: properties, mandatory: true)
        }
        return consumer
    }

    /// The same one-slot subscription to the version announcements (`versionsExchange`).
    public static func subscribeToVersions(on transport: some Transport) async throws(TransportError) -> Consumer {
        try await newestOnly(from: versionsExchange, on: transport).consumer
    }

    private static func newestOnly(
        from exchange: String, on transport: some Transport
    ) async throws(TransportError) -> (queue: String, consumer: Consumer) {
        var arguments = QueueArguments()
        arguments.maxLength = 1
        arguments.overflow = .dropHead
        let queue = try await transport.declareQueue(
            QueueDeclaration(name: "", durable: false, exclusive: true, autoDelete: true, arguments: arguments))
        try await transport.bindQueue(queue.name, exchange: exchange, routingKey: "")
        return (queue.name, try await transport.consume(queue: queue.name, prefetch: 1, exclusive: true))
    }
}
