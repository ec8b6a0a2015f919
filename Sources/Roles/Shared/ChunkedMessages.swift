import FedCore
import Messaging
import Wire

/// The roles' side of chunking (docs/wire-format.md, "Chunks"): publishing a message too
/// large for one broker message as its chunks, and turning deliveries of chunks back into
/// one delivery of the whole message that settles every chunk when it is settled.
extension Transport {
    /// Publishes `body` as one message when it fits in `chunkSize`, else as its chunks, in
    /// order, each confirmed before the next is sent, so a set reaches its queue whole and
    /// in order (on a fanout, every subscriber's queue) and a publish that fails part way
    /// is re-sent whole by the caller (the receiver settles the repeated chunks with their
    /// set). Every chunk carries `properties` (the credential and signature of a signed
    /// message included: they sign the whole body), with its own content type.
    public func publish(
        _ body: [UInt8], exchange: String, routingKey: String, properties: MessageProperties, mandatory: Bool,
        chunkSize: Int
    ) async throws(TransportError) {
        let bodies = Chunk.split(body, chunkSize: chunkSize)
        guard bodies.count > 1 else {
            return try await publish(body, exchange: exchange, routingKey: routingKey, properties: properties, mandatory: mandatory)
        }
        var chunkProperties = properties
        chunkProperties.contentType = ChunkedMessages.contentType
        for (index, chunk) in bodies.enumerated() {
            chunkProperties.headers[ChunkedMessages.chunkHeader] = .string("\(index)/\(bodies.count)")
            try await publish(chunk, exchange: exchange, routingKey: routingKey, properties: chunkProperties, mandatory: mandatory)
        }
    }
}

extension Transport {
    /// Publishes a client update longer than `chunkSize` as its chunks to
    /// `fedq.update-chunks`, the queue one worker at a time reads, so every chunk of it meets
    /// at one worker (`AggregatorWorker+Chunks.swift` says why). Signed updates carry the
    /// signature over the whole body on every chunk.
    public func publishChunkedUpdate(
        _ body: [UInt8], properties: MessageProperties, chunkSize: Int
    ) async throws(TransportError) {
        try await publish(
            body, exchange: PipelineTopology.updateChunksExchange, routingKey: PipelineTopology.updateChunksRoutingKey,
            properties: properties, mandatory: true, chunkSize: chunkSize)
    }
}

public enum ChunkedMessages {
    /// `content_type` of a chunk; the whole message's stays in its envelope.
    public static let contentType = "application/x-fedq-chunk"
    /// `x-fedq-chunk`: "INDEX/COUNT", for operators only (the chunk header is authoritative).
    public static let chunkHeader = "x-fedq-chunk"

    /// Incomplete chunked updates a worker holds at once: as many publishers sending large
    /// updates at the same moment (each publisher sends its chunked updates one at a time).
    public static let openUpdateSets = 4

    /// How many chunks a worker must be able to hold unacknowledged so that
    /// `openUpdateSets` interleaved sets of the largest message can all complete (with
    /// fewer, every held chunk could belong to an incomplete set and no further chunk
    /// would be delivered): its prefetch on `fedq.q.update-chunks`.
    public static func prefetch(maxChunks: Int) -> Int {
        openUpdateSets * maxChunks + 2
    }
}

/// A consumer's reassembly of chunked messages, around `ChunkReassembler` (the decisions):
/// a delivery that is not a chunk passes through; a chunk is held until its set completes,
/// then comes out as one delivery of the whole message whose `ack`, `nack` or `reject`
/// settles every chunk (one by one: sets interleave, so a `multiple` ack could settle a
/// chunk of another, incomplete set).
public struct DeliveryReassembler: Sendable {
    /// What the consumer does next.
    public enum Event: Sendable {
        /// A whole message: an unchunked delivery, or a reassembled one.
        case deliver(Delivery)
        /// A chunk of a message already reassembled (the rest of a publisher's retry):
        /// acknowledge it, count it nowhere.
        case retry(Delivery)
        /// Chunks refused, as one rejection booked under `id`: park them if the role parks
        /// refused messages, count one rejection, then acknowledge them.
        case refused(ChunkError, id: UpdateID, deliveries: [Delivery])
    }

    private var reassembler: ChunkReassembler<Delivery>

    public init(limits: ChunkReassembler<Delivery>.Limits) {
        reassembler = ChunkReassembler(limits: limits)
    }

    public var openSets: Int { reassembler.openSets }

    public mutating func take(_ delivery: Delivery, now: ContinuousClock.Instant = .now) -> [Event] {
        guard Chunk.isChunk(delivery.body) else { return [.deliver(delivery)] }
        return reassembler.receive(delivery.body, token: delivery, now: now).map(Self.event)
    }

    /// The sets given up for taking too long.
    public mutating func expire(now: ContinuousClock.Instant = .now) -> [Event] {
        reassembler.expire(now: now).map(Self.event)
    }

    private static func event(_ outcome: ChunkReassembler<Delivery>.Outcome) -> Event {
        switch outcome {
        case .whole(let bytes, _, let chunks):
            let first = chunks[0]
            var properties = first.properties
            properties.headers[ChunkedMessages.chunkHeader] = nil
            return .deliver(Delivery(
                body: bytes, properties: properties, exchange: first.exchange, routingKey: first.routingKey,
                redelivered: chunks.contains { $0.redelivered }, deliveryTag: first.deliveryTag,
                acknowledger: ChunkSetAcknowledger(chunks: chunks.map { $0.withoutBody() })))
        case .retry(let delivery): return .retry(delivery)
        case .refused(let error, let id, let deliveries): return .refused(error, id: id, deliveries: deliveries)
        }
    }
}

/// Settles a reassembled message's chunks, each alone (`multiple` is ignored: the chunks
/// need not be adjacent in their consumer's delivery order). Holds their handles without
/// their bodies: a reassembled message held for its batch costs its size once.
struct ChunkSetAcknowledger: DeliveryAcknowledger {
    let chunks: [Delivery]

    func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome, multiple: Bool) async throws(TransportError) {
        for chunk in chunks {
            switch outcome {
            case .ack: try await chunk.ack()
            case .nack(let requeue): try await chunk.nack(requeue: requeue)
            case .reject(let requeue): try await chunk.reject(requeue: requeue)
            }
        }
    }
}

extension Delivery {
    /// Whether this delivery stands for several chunks (`DeliveryReassembler`), which must
    /// be settled alone and never by another delivery's `multiple` ack.
    public var isReassembled: Bool { Chunk.isChunk(body) == false && properties.contentType == ChunkedMessages.contentType }
}

extension Delivery {
    /// One delivery standing for `deliveries` (chunks refused together): settling it settles each.
    public static func settlingTogether(_ deliveries: [Delivery]) -> Delivery {
        var properties = MessageProperties()
        properties.contentType = ChunkedMessages.contentType
        let first = deliveries[0]
        return Delivery(
            body: [], properties: properties, exchange: first.exchange, routingKey: first.routingKey,
            redelivered: deliveries.contains { $0.redelivered }, deliveryTag: first.deliveryTag,
            acknowledger: ChunkSetAcknowledger(chunks: deliveries))
    }
}
