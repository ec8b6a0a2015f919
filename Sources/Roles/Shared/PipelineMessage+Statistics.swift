import FedCore
import Foundation
import Learning
import Messaging
import Trust
import Wire

/// A table federation's statistics messages (docs/wire-format.md, "Statistics message"):
/// what a client publishes about its rows, and what the coordinator accepts of them.
extension PipelineMessage {
    /// A client's statistics with their broker properties; signed (docs/signing.md,
    /// `SignedStatement.statistics`) when the client has an identity. The message id names the
    /// client, so an operator sees whose statistics a queued message holds.
    public static func encodeStatistics(
        _ statistics: FeatureStatistics, clientID: UInt64, spec: ModelSpec, signedBy identity: ClientIdentity?
    ) throws(WireError) -> ([UInt8], MessageProperties) {
        let body = try StatisticsMessage(statistics, clientID: clientID, specHash: spec.hash).encoded()
        var properties = MessageProperties(messageID: "statistics-\(clientID)", contentType: StatisticsMessage.contentType, persistent: true)
        properties.timestamp = Date()
        properties.headers[MessageProperties.HeaderName.clientID] = .string("\(clientID)")
        if let identity {
            let signature = identity.sign(statistics: body)
            properties.headers[MessageProperties.HeaderName.credential] = .bytes(signature.credential)
            properties.headers[MessageProperties.HeaderName.signature] = .bytes(signature.signature)
        }
        return (body, properties)
    }
}

/// Why the coordinator refused a statistics message: the wire check or the signature check
/// that failed. Refused messages are acknowledged, counted in
/// `fedq_statistics_rejected_total{reason}` and logged; they never stop the coordinator.
public struct StatisticsRejection: Error, Equatable, Sendable {
    public var reason: RejectionReason
    public var detail: String
}

/// The coordinator's check of one statistics message, as a value with no I/O: the body
/// decodes for this model (spec hash, input width, a count, finite sums, no negative
/// variance) and, with the issuer's key, carries a credential the issuer gave the very
/// client id the body names and that credential's signature. Without the second check
/// anyone holding the client broker credential could pose as many clients and fill the
/// quorum with invented rows (docs/security.md).
public struct StatisticsVerifier: Sendable {
    public let spec: ModelSpec
    private var authenticator: UpdateAuthenticator?

    /// - Parameter revocations: with `issuer`, credentials withdrawn early (`--revoked`).
    public init(spec: ModelSpec, issuer: VerifyingKey?, revocations: Revocations? = nil) {
        self.spec = spec
        authenticator = issuer.map { UpdateAuthenticator(issuer: $0, revocations: revocations) }
    }

    /// The client id and statistics `body` holds, or why it is refused.
    public mutating func check(
        _ body: [UInt8], properties: MessageProperties, now: UInt64 = UInt64(Date().timeIntervalSince1970)
    ) -> Result<(clientID: UInt64, statistics: FeatureStatistics), StatisticsRejection> {
        var credential: ClientCredential?
        if authenticator != nil {
            do throws(TrustError) {
                credential = try authenticator!.authenticate(
                    .statistics(body: body), credential: properties.headers[MessageProperties.HeaderName.credential]?.bytesValue,
                    signature: properties.headers[MessageProperties.HeaderName.signature]?.bytesValue, now: now)
            } catch {
                return .failure(StatisticsRejection(reason: .unauthenticated, detail: error.reasonCode))
            }
        }
        let message: StatisticsMessage
        do throws(WireError) {
            message = try StatisticsMessage(bytes: body, featureCount: spec.inputSize, specHash: spec.hash)
        } catch {
            return .failure(StatisticsRejection(reason: error.rejectionReason, detail: error.reasonCode))
        }
        if let credential {
            do throws(TrustError) { try credential.checkSpeaks(for: message.clientID) } catch {
                return .failure(StatisticsRejection(reason: .unauthenticated, detail: error.reasonCode))
            }
        }
        return .success((message.clientID, FeatureStatistics(message)))
    }
}
