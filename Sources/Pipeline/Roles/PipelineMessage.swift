import Aggregation
import Foundation
import Learning
import Wire

/// The model the coordinator publishes: parameters, version, and how many
/// client updates it contains (so "updates to target" can be read off any version).
public struct GlobalModel: Sendable {
    public var version: ModelVersion
    public var parameters: [Float]
    public var updatesApplied: Int

    public init(version: ModelVersion, parameters: [Float], updatesApplied: Int) {
        self.version = version
        self.parameters = parameters
        self.updatesApplied = updatesApplied
    }
}

/// Turns role-level values into envelopes plus broker properties and back,
/// so no role formats bytes or headers by hand.
public enum PipelineMessage {
    /// Header with the cumulative applied-update count of a model version.
    public static let updatesAppliedHeader = "x-fedq-updates-applied"

    /// Broker properties mirroring an envelope's header (message id = update id).
    public static func properties(for header: MessageHeader, extra: [String: HeaderValue] = [:]) -> MessageProperties {
        let wire = Wire.MessageProperties(header: header)
        var headers = wire.headers.mapValues { HeaderValue.string($0) }
        headers.merge(extra) { _, new in new }
        return MessageProperties(
            messageID: wire.messageID, contentType: wire.contentType, contentEncoding: wire.contentEncoding,
            timestamp: Date(), persistent: true, headers: headers)
    }

    public static func encodeModel(_ model: GlobalModel, spec: ModelSpec) throws(WireError) -> ([UInt8], MessageProperties) {
        let header = MessageHeader(
            kind: .modelVersion, specHash: spec.hash, modelVersion: model.version,
            parameterCount: spec.parameterCount, codec: .fp32)
        let body = try Envelope.encode(model.parameters, header: header)
        return (body, properties(for: header, extra: [updatesAppliedHeader: .int(Int64(model.updatesApplied))]))
    }

    public static func decodeModel(_ delivery: Delivery, spec: ModelSpec) throws(WireError) -> GlobalModel {
        let envelope = try Envelope(bytes: delivery.body, expecting: expectation(spec))
        guard envelope.header.kind == .modelVersion else {
            throw .inconsistentInput(field: .kind, reason: "expected a model version, got \(envelope.header.kind)")
        }
        let applied = delivery.properties.headers[updatesAppliedHeader]?.intValue ?? 0
        return GlobalModel(version: envelope.header.modelVersion, parameters: envelope.decode(), updatesApplied: Int(applied))
    }

    /// The version a model message announces, read from its headers without decoding the body.
    public static func announcedVersion(_ delivery: Delivery) -> ModelVersion? {
        delivery.properties.headers[Wire.MessageProperties.HeaderName.modelVersion]?.stringValue.flatMap { UInt64($0) }
    }

    public static func expectation(_ spec: ModelSpec) -> ModelExpectation {
        ModelExpectation(specHash: spec.hash, parameterCount: spec.parameterCount)
    }
}

extension Aggregation.UpdateID {
    /// The same 16 bytes as the wire's id.
    init(_ wire: Wire.UpdateID) {
        try! self.init(bytes: wire.bytes)  // Wire ids are always 16 bytes.
    }
}

/// Roles count and deduplicate updates with the aggregation's id type; the
/// wire's id converts with `UpdateID(_:)` where a message is decoded.
public typealias UpdateID = Aggregation.UpdateID
