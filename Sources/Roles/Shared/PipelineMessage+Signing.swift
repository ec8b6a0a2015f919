import FedCore
import Learning
import Logging
import Messaging
import Trust
import Wire

/// Signatures on the messages roles exchange (docs/signing.md): clients sign updates with
/// their key and credential, the coordinator signs model versions and version notices.
/// The signature travels in headers; the envelope is unchanged, so unsigned consumers
/// read signed messages as before.
extension PipelineMessage {
    /// An update's properties with its credential and signature.
    public static func signed(update properties: MessageProperties, body: [UInt8], by identity: ClientIdentity) -> MessageProperties {
        let signature = identity.sign(update: body)
        var properties = properties
        properties.headers[MessageProperties.HeaderName.credential] = .bytes(signature.credential)
        properties.headers[MessageProperties.HeaderName.signature] = .bytes(signature.signature)
        return properties
    }

    /// A model version (`encodeModel`) signed by the coordinator's key, when it has one.
    public static func encodeModel(
        _ model: GlobalModel, spec: ModelSpec, signedBy key: SigningKey?
    ) throws(WireError) -> ([UInt8], MessageProperties) {
        var (body, properties) = try encodeModel(model, spec: spec)
        if let key { properties.headers[MessageProperties.HeaderName.signature] = .bytes(key.sign(.model(body: body))) }
        return (body, properties)
    }

    /// The bodiless notice of `model` for workers: the model message's properties, signed
    /// over the version and spec hash its headers carry (not over the empty body).
    public static func versionNotice(
        _ modelProperties: MessageProperties, version: ModelVersion, spec: ModelSpec, signedBy key: SigningKey?
    ) -> MessageProperties {
        var properties = modelProperties
        properties.headers[MessageProperties.HeaderName.signature] =
            key.map { .bytes($0.sign(.version(version, specHash: spec.hash))) }
        return properties
    }
}

/// What a model subscriber (a fleet's or client's `ModelFeed`, the `Evaluator`, a worker's
/// version listener) takes from the fanout: a message that does not decode, is another
/// model's, or (with the coordinator's public key) is not signed by the coordinator is
/// dropped, counted in `fedq_models_rejected_total{reason}` and logged, and the subscriber
/// goes on. Anyone who can publish to the fanout must not be able to stop a fleet.
///
/// A validly signed version far ahead of the current one is taken: the coordinator said so.
public struct ModelVerifier: Sendable {
    /// Why a model message was dropped: the `RejectionReason` it would be refused under
    /// as an update, and the check that failed.
    public struct Rejection: Error, Equatable, Sendable {
        public var reason: RejectionReason
        public var detail: String
    }

    /// The reasons a model message can be dropped for (the metric's series).
    public static let reasons: [RejectionReason] = [.malformed, .wrongModel, .nonFinite, .unauthenticated]

    /// The coordinator's key (`--coordinator-key`); nil takes unsigned messages, as before signing existed.
    public let coordinatorKey: VerifyingKey?
    /// A table federation's subscriber: a model version without the standardisation section
    /// is dropped as `wrong-model` (`missing-standardization`), since its weights cannot be
    /// applied to rows nobody knows how to scale. Version notices carry no section and are
    /// not affected.
    public let requiresStandardization: Bool
    let logger: Logger

    public init(
        coordinatorKey: VerifyingKey?, requiresStandardization: Bool = false,
        logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.coordinatorKey = coordinatorKey
        self.requiresStandardization = requiresStandardization
        self.logger = logger
    }

    /// The model in `delivery`, or nil (counted and logged) when it is dropped.
    public func model(_ delivery: Delivery, spec: ModelSpec) -> GlobalModel? {
        accepted(check(model: delivery, spec: spec), delivery)
    }

    /// The version a notice announces, or nil (counted and logged) when it is dropped.
    public func version(_ delivery: Delivery, spec: ModelSpec) -> ModelVersion? {
        accepted(check(version: delivery, spec: spec), delivery)
    }

    /// The decision alone, for tests: decode, then the signature over the body.
    public func check(model delivery: Delivery, spec: ModelSpec) -> Result<GlobalModel, Rejection> {
        if let coordinatorKey,
            let refused = Self.refusal(of: delivery.properties.headers[MessageProperties.HeaderName.signature], over: .model(body: delivery.body), by: coordinatorKey)
        {
            return .failure(refused)
        }
        do throws(WireError) {
            let model = try PipelineMessage.decodeModel(delivery, spec: spec)
            if requiresStandardization && model.standardization == nil {
                return .failure(Rejection(reason: .wrongModel, detail: "missing-standardization"))
            }
            return .success(model)
        } catch {
            return .failure(Rejection(reason: error.rejectionReason, detail: error.reasonCode))
        }
    }

    /// The decision alone, for tests: the notice's version and spec hash headers, and the
    /// signature over them.
    public func check(version delivery: Delivery, spec: ModelSpec) -> Result<ModelVersion, Rejection> {
        let headers = delivery.properties.headers
        guard let version = PipelineMessage.announcedVersion(delivery),
            let specHash = headers[MessageProperties.HeaderName.specHash]?.stringValue.flatMap({ UInt64($0, radix: 16) })
        else { return .failure(Rejection(reason: .malformed, detail: "no version or spec hash header")) }
        guard specHash == spec.hash else {
            return .failure(Rejection(reason: .wrongModel, detail: "spec hash \(String(specHash, radix: 16))"))
        }
        if let coordinatorKey,
            let refused = Self.refusal(of: headers[MessageProperties.HeaderName.signature], over: .version(version, specHash: specHash), by: coordinatorKey)
        {
            return .failure(refused)
        }
        return .success(version)
    }

    /// Why `signature` (a header's value) does not make `statement` the coordinator's:
    /// missing (not bytes) or not its key's; nil when it does.
    static func refusal(of signature: HeaderValue?, over statement: SignedStatement, by key: VerifyingKey) -> Rejection? {
        guard let bytes = signature?.bytesValue else {
            return Rejection(reason: .unauthenticated, detail: TrustError.missingSignature.reasonCode)
        }
        return key.verifies(bytes, of: statement) ? nil : Rejection(reason: .unauthenticated, detail: TrustError.badSignature.reasonCode)
    }

    private func accepted<T>(_ result: Result<T, Rejection>, _ delivery: Delivery) -> T? {
        switch result {
        case .success(let value): return value
        case .failure(let rejection):
            PipelineMetrics.modelsRejected(rejection.reason).increment()
            logger.warning("model message dropped", metadata: [
                "reason": "\(rejection.reason.name)", "detail": "\(rejection.detail)", "bytes": "\(delivery.body.count)",
                "message_id": "\(delivery.properties.messageID ?? "")",
            ])
            return nil
        }
    }
}
