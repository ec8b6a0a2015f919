import FedCore
import Learning
import Logging
import Messaging
import Wire

/// A model subscriber's reassembly of chunked model versions (a 10-million-parameter model
/// is 40 MB of fp32, more than RabbitMQ's 16 MiB message limit): the coordinator publishes a
/// version as chunks, in order, onto the fanout (and into a late joiner's queue), and every
/// subscriber puts them back together here.
///
/// A subscriber acknowledges each chunk as it takes it: its queue is its own, read with a
/// prefetch of 1, so holding a chunk would stop the next one from ever arriving; and a model
/// version need not arrive effectively once (a lost one is replaced by the next). A chunk
/// that is refused, or a set that never completes, is counted in
/// `fedq_models_rejected_total{reason}` and logged; it never ends the subscription.
public struct ModelChunks: Sendable {
    private var reassembler: DeliveryReassembler
    private let logger: Logger

    public init(spec: ModelSpec, logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() })) {
        reassembler = DeliveryReassembler(limits: Self.limits(spec: spec))
        self.logger = logger
    }

    /// A model version of `spec` is exactly this long (always fp32); at most two versions
    /// are held incomplete, each for a minute at most.
    static func limits(spec: ModelSpec) -> ChunkReassembler<Delivery>.Limits {
        let length = modelMessageBytes(spec)
        return ChunkReassembler.Limits(
            maxMessageBytes: length, maxChunks: Chunk.messageCount(length: length, chunkSize: Chunk.minimumChunkSize),
            maxOpenSets: 2, timeout: .seconds(60))
    }

    /// Bytes of one model version of `spec`: header, fp32 parameters, trailer.
    public static func modelMessageBytes(_ spec: ModelSpec) -> Int {
        Envelope.headerByteCount + 4 * spec.parameterCount + 4
    }

    /// How many messages one version of `spec` travels as with `chunkSize`
    /// (`PipelineTopology.subscribeToModels`'s `messagesPerVersion`).
    public static func messagesPerVersion(_ spec: ModelSpec, chunkSize: Int) -> Int {
        Chunk.messageCount(length: modelMessageBytes(spec), chunkSize: chunkSize)
    }

    /// The whole model message `delivery` completes, if any: a plain delivery as it is (the
    /// caller acknowledges it), a reassembled one whose settling does nothing (its chunks
    /// were acknowledged as they came), or nil while chunks are missing or were refused.
    public mutating func take(_ delivery: Delivery) async throws -> Delivery? {
        guard Chunk.isChunk(delivery.body) else { return delivery }
        try await delivery.ack()
        var whole: Delivery?
        for event in reassembler.take(delivery) + reassembler.expire() {
            switch event {
            case .deliver(let message):
                whole = Delivery(
                    body: message.body, properties: message.properties, exchange: message.exchange,
                    routingKey: message.routingKey, redelivered: message.redelivered, deliveryTag: message.deliveryTag,
                    acknowledger: SettledAlready())
            case .retry: break
            case .refused(let error, let id, let deliveries):
                PipelineMetrics.modelsRejected(error.rejectionReason).increment()
                logger.warning("model chunks dropped", metadata: [
                    "set": "\(id)", "reason": "\(error.rejectionReason.name)", "detail": "\(error.reasonCode)",
                    "chunks": "\(deliveries.count)", "error": "\(error)",
                ])
            }
        }
        return whole
    }
}

/// The acknowledger of a reassembled model: its chunks were settled as they came.
private struct SettledAlready: DeliveryAcknowledger {
    func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome, multiple: Bool) async throws(TransportError) {}
}
