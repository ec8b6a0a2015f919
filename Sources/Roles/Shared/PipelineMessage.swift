import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
import Wire

/// Turns role-level values into envelopes plus broker properties and back,
/// so no role formats bytes or headers by hand.
public enum PipelineMessage {
    /// Broker properties mirroring an envelope's header (message id = update id).
    public static func properties(for header: MessageHeader, extra: [String: HeaderValue] = [:]) -> MessageProperties {
        var properties = MessageProperties(header: header)
        properties.timestamp = Date()
        properties.headers.merge(extra) { _, new in new }
        return properties
    }

    public static func encodeModel(_ model: GlobalModel, spec: ModelSpec) throws(WireError) -> ([UInt8], MessageProperties) {
        let header = MessageHeader(
            kind: .modelVersion, specHash: spec.hash, modelVersion: model.version,
            parameterCount: spec.parameterCount, codec: .fp32)
        let body = try Envelope.encode(model.parameters, header: header, standardization: model.standardization)
        var extra: [String: HeaderValue] = [MessageProperties.HeaderName.updatesApplied: .int(Int64(model.updatesApplied))]
        if let epsilon = model.privacyEpsilon { extra[MessageProperties.HeaderName.privacyEpsilon] = .string("\(epsilon)") }
        if model.isFinal { extra[MessageProperties.HeaderName.finalVersion] = .int(1) }
        return (body, properties(for: header, extra: extra))
    }

    public static func decodeModel(_ delivery: Delivery, spec: ModelSpec) throws(WireError) -> GlobalModel {
        var model = try decodeModel(body: delivery.body, spec: spec)
        let applied = delivery.properties.headers[MessageProperties.HeaderName.updatesApplied]?.intValue ?? 0
        let epsilon = delivery.properties.headers[MessageProperties.HeaderName.privacyEpsilon]?.stringValue.flatMap(Double.init)
        model.updatesApplied = Int(applied)
        model.privacyEpsilon = epsilon.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        model.isFinal = delivery.properties.headers[MessageProperties.HeaderName.finalVersion]?.intValue == 1
        return model
    }

    /// A model version from its body alone (a saved `model.msg`): what the body carries
    /// (version, parameters, standardisation), none of what rides in the broker properties
    /// (updates applied, ε, the final flag).
    public static func decodeModel(body: [UInt8], spec: ModelSpec) throws(WireError) -> GlobalModel {
        let envelope = try Envelope(bytes: body, expecting: expectation(spec))
        guard envelope.header.kind == .modelVersion else {
            throw .inconsistentInput(field: .kind, reason: "expected a model version, got \(envelope.header.kind)")
        }
        return GlobalModel(
            version: envelope.header.modelVersion, parameters: envelope.decode(), updatesApplied: 0,
            standardization: envelope.standardization)
    }

    /// The version a model message announces, read from its headers without decoding the body.
    public static func announcedVersion(_ delivery: Delivery) -> ModelVersion? {
        delivery.properties.headers[MessageProperties.HeaderName.modelVersion]?.stringValue.flatMap { UInt64($0) }
    }

    /// A refused message's properties on its way to `fedq.dead`: its own, plus the
    /// reason (its one spelling, `RejectionReason.name`) and a detail for an operator.
    public static func deadLettered(_ properties: MessageProperties, reason: RejectionReason, detail: String) -> MessageProperties {
        var properties = properties
        properties.headers[MessageProperties.HeaderName.rejectReason] = .string(reason.name)
        properties.headers[MessageProperties.HeaderName.rejectDetail] = .string(detail)
        return properties
    }

    public static func expectation(_ spec: ModelSpec) -> ModelExpectation {
        ModelExpectation(specHash: spec.hash, parameterCount: spec.parameterCount, featureCount: spec.inputSize)
    }
}
