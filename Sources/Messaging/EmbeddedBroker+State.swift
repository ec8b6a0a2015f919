import FedCore
import Foundation

/// The embedded broker's mutable world. It only ever runs under the broker's mutex, so
/// its queues and exchanges are plain classes mutated in place (no copy-on-write of
/// message rings on every access).
struct BrokerState {
    var exchanges: [String: ExchangeState] = [:]
    var queues: [String: QueueState] = [:]
    /// Delivered but not yet settled, by delivery tag.
    var unsettled: [UInt64: Unsettled] = [:]
    var nextDeliveryTag: UInt64 = 1
    var nextID: UInt64 = 1
    var isClosed = false
    /// Connection 0 is the broker's own (its `Transport` conformance); others come from
    /// `EmbeddedBroker.connect()`.
    var openConnections: Set<UInt64> = [0]

    /// Dead-lettering can loop (a DLX routing back to the queue); RabbitMQ cuts cycles,
    /// and so does this depth bound.
    static let maxDeadLetterDepth = 16

    typealias Continuation = AsyncThrowingStream<Delivery, any Error>.Continuation

    struct Unsettled {
        let queue: QueueState
        let consumer: UInt64
        let message: StoredMessage
    }

    func checkOpen(_ connection: UInt64) throws(TransportError) {
        guard !isClosed, openConnections.contains(connection) else { throw .closed }
    }

    /// The queue, if it exists and `connection` may use it (an exclusive queue belongs to
    /// the connection that declared it: AMQP 405 for anyone else).
    func queue(_ name: String, usableBy connection: UInt64) throws(TransportError) -> QueueState {
        guard let queue = queues[name] else { throw .notFound("queue '\(name)'") }
        if let owner = queue.owner, owner != connection {
            throw .resourceLocked("queue '\(name)' is exclusive to another connection")
        }
        return queue
    }

    mutating func makeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    /// The queues a message published to `exchange` with `routingKey` goes to.
    func targets(exchange: String, routingKey: String) throws(TransportError) -> [QueueState] {
        if exchange.isEmpty { return queues[routingKey].map { [$0] } ?? [] }
        guard let exchangeState = exchanges[exchange] else { throw .notFound("exchange '\(exchange)'") }
        var targets: [QueueState] = []
        for binding in exchangeState.bindings
        where exchangeState.declaration.kind == .fanout || binding.routingKey == routingKey {
            if let queue = queues[binding.queue], !targets.contains(where: { $0 === queue }) {
                targets.append(queue)
            }
        }
        return targets
    }

    /// Adds a message to a queue, hands it to a consumer if one has room, then enforces
    /// `x-max-length`. Returns false when `reject-publish` refused it.
    mutating func enqueue(
        _ message: StoredMessage, into queue: QueueState, acknowledger: any DeliveryAcknowledger, depth: Int = 0
    ) -> Bool {
        if let log = queue.log {
            log.append(message)
            dispatch(queue, acknowledger: acknowledger)
            return true
        }
        queue.ready.append(message)
        dispatch(queue, acknowledger: acknowledger)
        guard let maxLength = queue.declaration.arguments.maxLength else { return true }
        var accepted = true
        while queue.ready.count > maxLength {
            if queue.declaration.arguments.overflow == .rejectPublish {
                _ = queue.ready.popLast()
                accepted = false
            } else if let head = queue.ready.popFirst() {
                deadLetter(head, from: queue, reason: "maxlen", acknowledger: acknowledger, depth: depth)
            }
        }
        return accepted
    }

    /// Delivers ready messages to consumers with room under their prefetch, round-robin
    /// (or only to the first consumer of a single-active-consumer queue).
    mutating func dispatch(_ queue: QueueState, acknowledger: any DeliveryAcknowledger) {
        if let log = queue.log { return dispatch(log, of: queue, acknowledger: acknowledger) }
        while !queue.ready.isEmpty, let index = queue.nextConsumerWithRoom() {
            guard let message = queue.ready.popFirst() else { return }
            hand(message, to: index, of: queue, acknowledger: acknowledger)
        }
    }

    /// A stream's dispatch: each reader gets the log from its cursor on, as far as its
    /// prefetch allows; nothing leaves the log but what retention removes.
    private mutating func dispatch(_ log: StreamLog, of queue: QueueState, acknowledger: any DeliveryAcknowledger) {
        for index in queue.consumers.indices {
            // A reader that fell behind what retention keeps goes on from the oldest message held.
            while queue.consumers[index].hasRoom, let cursor = queue.consumers[index].cursor.map({ max($0, log.first) }),
                let message = log[cursor]
            {
                queue.consumers[index].cursor = cursor + 1
                hand(message, to: index, of: queue, streamOffset: cursor, acknowledger: acknowledger)
            }
        }
    }

    /// Gives `message` to the queue's consumer at `index` under a new delivery tag, held
    /// unsettled until it is acked, nacked or its consumer goes.
    private mutating func hand(
        _ message: StoredMessage, to index: Int, of queue: QueueState, streamOffset: UInt64? = nil,
        acknowledger: any DeliveryAcknowledger
    ) {
        let tag = nextDeliveryTag
        nextDeliveryTag += 1
        queue.consumers[index].unsettled += 1
        unsettled[tag] = Unsettled(queue: queue, consumer: queue.consumers[index].id, message: message)
        queue.consumers[index].continuation.yield(
            Delivery(
                body: message.body, properties: message.properties, exchange: message.exchange,
                routingKey: message.routingKey, redelivered: message.redelivered, deliveryTag: tag,
                streamOffset: streamOffset, acknowledger: acknowledger))
    }

    /// Routes a message to the queue's dead-letter exchange with an `x-death` record, or
    /// drops it when the queue has none (as RabbitMQ does).
    mutating func deadLetter(
        _ message: StoredMessage, from queue: QueueState, reason: String,
        acknowledger: any DeliveryAcknowledger, depth: Int
    ) {
        let arguments = queue.declaration.arguments
        guard let exchange = arguments.deadLetterExchange, depth < Self.maxDeadLetterDepth else { return }
        var dead = message
        dead.properties.recordDeath(
            reason: reason, queue: queue.declaration.name, exchange: message.exchange,
            routingKey: message.routingKey, at: Date())
        dead.exchange = exchange
        dead.routingKey = arguments.deadLetterRoutingKey ?? message.routingKey
        dead.redelivered = false
        guard let targets = try? targets(exchange: exchange, routingKey: dead.routingKey) else { return }
        for target in targets {
            _ = enqueue(dead, into: target, acknowledger: acknowledger, depth: depth + 1)
        }
    }

    /// `tag` alone, or with `multiple` also its consumer's earlier unsettled deliveries
    /// (each consumer has a channel of its own, as the AMQP transport gives it), oldest first.
    func tags(settledBy tag: UInt64, multiple: Bool) throws(TransportError) -> [UInt64] {
        guard let consumer = unsettled[tag]?.consumer else { throw .unknownDeliveryTag(tag) }
        guard multiple else { return [tag] }
        return unsettled.compactMap { $0.key <= tag && $0.value.consumer == consumer ? $0.key : nil }.sorted()
    }

    /// Acks, requeues or dead-letters one delivery.
    mutating func settle(
        _ tag: UInt64, _ outcome: DeliveryOutcome, acknowledger: any DeliveryAcknowledger
    ) throws(TransportError) {
        guard let entry = unsettled.removeValue(forKey: tag) else { throw .unknownDeliveryTag(tag) }
        let queue = entry.queue
        if let index = queue.consumers.firstIndex(where: { $0.id == entry.consumer }) {
            queue.consumers[index].unsettled -= 1
        }
        if queue.log != nil {
            // A stream keeps every message: settling only returns the reader's credit.
        } else if outcome.requeues {
            var message = entry.message
            message.redelivered = true
            queue.ready.prepend(message)
        } else if outcome != .ack {
            deadLetter(entry.message, from: queue, reason: "rejected", acknowledger: acknowledger, depth: 0)
        }
        dispatch(queue, acknowledger: acknowledger)
    }

    /// Removes a consumer, returning its unsettled messages to the front of the queue in
    /// delivery order, marked redelivered; deletes an auto-delete queue left without
    /// consumers. Returns the streams to finish (outside the lock: finishing runs the
    /// stream's termination handler, which takes the lock again).
    mutating func cancelConsumer(
        _ id: UInt64, queue name: String, acknowledger: any DeliveryAcknowledger
    ) -> [Continuation] {
        guard let queue = queues[name], let index = queue.consumers.firstIndex(where: { $0.id == id }) else {
            return []
        }
        let consumer = queue.consumers.remove(at: index)
        consumer.termination.set()
        if queue.nextConsumer > index { queue.nextConsumer -= 1 }
        let tags = unsettled.compactMap { tag, entry in entry.consumer == id ? tag : nil }.sorted()
        for tag in tags.reversed() {
            guard var message = unsettled.removeValue(forKey: tag)?.message, queue.log == nil else { continue }
            message.redelivered = true
            queue.ready.prepend(message)
        }
        if queue.consumers.isEmpty && queue.declaration.autoDelete {
            return [consumer.continuation] + deleteQueue(name)
        }
        dispatch(queue, acknowledger: acknowledger)
        return [consumer.continuation]
    }

    /// Deletes a queue, its bindings and its unsettled deliveries; returns its consumers'
    /// streams to finish outside the lock.
    mutating func deleteQueue(_ name: String) -> [Continuation] {
        guard let queue = queues.removeValue(forKey: name) else { return [] }
        for exchange in exchanges.values {
            exchange.bindings.removeAll { $0.queue == name }
        }
        unsettled = unsettled.filter { $0.value.queue !== queue }
        // As RabbitMQ's basic.cancel: consumers learn their queue is gone (and a role starts
        // a new session) rather than seeing an ordinary end.
        queue.consumers.forEach { $0.termination.set(because: .consumerCancelled(queue: name)) }
        let continuations = queue.consumers.map(\.continuation)
        queue.consumers.removeAll()
        return continuations
    }

    /// Closes one connection as RabbitMQ does: its consumers are cancelled (their
    /// unsettled messages requeued) and its exclusive queues deleted. Returns the streams
    /// to finish outside the lock.
    mutating func closeConnection(_ connection: UInt64, acknowledger: any DeliveryAcknowledger) -> [Continuation] {
        guard openConnections.remove(connection) != nil else { return [] }
        var finished: [Continuation] = []
        for (name, queue) in queues {
            for consumer in queue.consumers where consumer.connection == connection {
                finished += cancelConsumer(consumer.id, queue: name, acknowledger: acknowledger)
            }
        }
        for (name, queue) in queues where queue.owner == connection {
            finished += deleteQueue(name)
        }
        return finished
    }

    /// Ends everything; returns every consumer's stream to finish outside the lock.
    mutating func close() -> [Continuation] {
        isClosed = true
        let consumers = queues.values.flatMap(\.consumers)
        consumers.forEach { $0.termination.set() }
        let continuations = consumers.map(\.continuation)
        queues.removeAll()
        exchanges.removeAll()
        unsettled.removeAll()
        return continuations
    }
}

final class ExchangeState {
    struct Binding: Equatable {
        let queue: String
        let routingKey: String
    }

    let declaration: ExchangeDeclaration
    var bindings: [Binding] = []

    init(_ declaration: ExchangeDeclaration) { self.declaration = declaration }
}

final class QueueState {
    struct ConsumerState {
        let id: UInt64
        let connection: UInt64
        let prefetch: Int
        let exclusive: Bool
        /// A stream reader's next offset (nil for a queue's consumer).
        var cursor: UInt64?
        var unsettled = 0
        let continuation: BrokerState.Continuation
        let termination: Consumer.Termination

        var hasRoom: Bool { prefetch == 0 || unsettled < prefetch }
    }

    let declaration: QueueDeclaration
    /// The connection an exclusive queue belongs to.
    let owner: UInt64?
    var ready = MessageRing()
    /// A stream queue's log (nil for other queues, whose messages are in `ready`).
    let log: StreamLog?
    var consumers: [ConsumerState] = []
    /// Where the round-robin search for the next consumer starts.
    var nextConsumer = 0

    init(_ declaration: QueueDeclaration, owner: UInt64?) {
        self.declaration = declaration
        self.owner = owner
        log = declaration.arguments.queueType == .stream ? StreamLog(maxBytes: declaration.arguments.maxLengthBytes) : nil
    }

    var status: QueueStatus {
        QueueStatus(name: declaration.name, messageCount: log?.count ?? ready.count, consumerCount: consumers.count)
    }

    func nextConsumerWithRoom() -> Int? {
        guard !consumers.isEmpty else { return nil }
        if declaration.arguments.singleActiveConsumer { return consumers[0].hasRoom ? 0 : nil }
        for offset in 0..<consumers.count {
            let index = (nextConsumer + offset) % consumers.count
            if consumers[index].hasRoom {
                nextConsumer = index + 1
                return index
            }
        }
        return nil
    }
}
