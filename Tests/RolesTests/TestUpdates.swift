import Roles
import Messaging
import Aggregation
import Foundation
import Learning
import Wire

/// Hand-made client updates whose every value is known, and the poison messages a
/// worker must refuse, shared by the role tests on both brokers.
enum TestUpdates {
    /// Each from a client of its own unless `client` says otherwise: the workers take at most
    /// 4 updates of one client per model version (`--max-client-rate`).
    static func update(
        _ value: Float, base: ModelVersion = 0, codec: String = "fp32", spec: ModelSpec = .mlp, specHash: UInt64? = nil,
        client: UInt64 = .random(in: 0...UInt64.max)
    ) throws -> (body: [UInt8], header: MessageHeader) {
        let header = MessageHeader(
            kind: .clientUpdate, specHash: specHash ?? spec.hash, modelVersion: base, clientID: client, sampleCount: 600, localSteps: 60,
            parameterCount: spec.parameterCount, codec: try CodecSpec(parsing: codec))
        return (try Envelope.encode([Float](repeating: value, count: spec.parameterCount), header: header), header)
    }

    /// Bytes that are no envelope at all.
    static let garbage: [UInt8] = (0..<500).map { UInt8(truncatingIfNeeded: $0 &* 7919) }

    /// A well-formed envelope carrying a NaN (encoders refuse NaN, so one is patched in
    /// and the CRC resealed).
    static func nanUpdate() throws -> (body: [UInt8], header: MessageHeader) {
        var nan = try update(0.1)
        let at = Envelope.headerByteCount + 4 * 7
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { nan.body.replaceSubrange(at..<(at + 4), with: $0) }
        let crc = CRC32C.checksum(Array(nan.body.dropLast(4)))
        withUnsafeBytes(of: crc.littleEndian) { nan.body.replaceSubrange((nan.body.count - 4)..., with: $0) }
        return nan
    }

    static func publish(
        _ message: (body: [UInt8], header: MessageHeader), on transport: some Transport,
        routingKey: String = PipelineTopology.updatesRoutingKey
    ) async throws {
        try await transport.publish(
            message.body, exchange: PipelineTopology.updatesExchange, routingKey: routingKey,
            properties: PipelineMessage.properties(for: message.header), mandatory: true)
    }

    /// The `x-fedq-reason` and `x-fedq-detail` headers of the first `count` messages
    /// parked in `fedq.dead` (waiting for them), each acknowledged.
    static func deadLetterReasons(_ count: Int, on transport: some Transport) async throws -> [DeadLetter] {
        let dead = try await transport.consume(queue: PipelineTopology.deadQueue, prefetch: 10)
        var reasons: [DeadLetter] = []
        for try await delivery in dead {
            let headers = delivery.properties.headers
            reasons.append(DeadLetter(
                reason: headers[MessageProperties.HeaderName.rejectReason]?.stringValue ?? "none",
                detail: headers[MessageProperties.HeaderName.rejectDetail]?.stringValue ?? "none"))
            try await delivery.ack()
            if reasons.count == count { break }
        }
        await dead.cancel()
        return reasons
    }

    /// What `fedq.dead` says of a parked message: the reason's one name, and which check.
    struct DeadLetter: Equatable, CustomStringConvertible {
        var reason: String
        var detail: String
        var description: String { "\(reason) (\(detail))" }
    }

    static func publishGarbage(on transport: some Transport) async throws {
        try await transport.publish(garbage, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey)
    }

    /// A delivery of `body` that no broker handed out: settling it does nothing.
    static func delivery(_ body: [UInt8], _ properties: MessageProperties = MessageProperties()) -> Delivery {
        Delivery(body: body, properties: properties, exchange: "", routingKey: "", redelivered: false, deliveryTag: 1, acknowledger: NoAck())
    }

    struct NoAck: DeliveryAcknowledger {
        func settle(deliveryTag: UInt64, _ outcome: DeliveryOutcome, multiple: Bool) async throws(TransportError) {}
    }
}
