import FedCore
import Foundation
import Messaging
import Trust

/// The coordinator's revocation list, carried by its version notices (docs/signing.md,
/// "Revoking a credential"; docs/wire-format.md, "Version notices"): the notice's body is
/// the list's canonical text, its headers the list's serial and the coordinator's
/// signature of both. Every worker already reads every notice, so the list reaches each
/// one with the next notice, and one started later with the first it hears; no worker
/// needs a file the operator keeps in step.
///
/// On the notices rather than a fanout of its own: the versions subscription is a
/// newest-only queue, so a message of another kind there could be pushed out by the next
/// notice before a worker read it; and a new exchange would need a permission for every
/// worker. A notice always carries the whole current list, so the newest one is all a
/// worker needs.
extension PipelineMessage {
    /// A list signed once, then put on every notice until it changes.
    public struct SignedRevocations: Sendable, Equatable {
        public let list: RevocationList
        public let serial: UInt64
        /// The list's canonical text (UTF-8): the notice's body.
        public let body: [UInt8]
        public let signature: [UInt8]

        public init(_ list: RevocationList, serial: UInt64, signedBy key: SigningKey) {
            self.list = list
            self.serial = serial
            body = Array(list.canonicalText.utf8)
            signature = key.sign(.revocations(serial: serial, body: body))
        }

        /// Puts the serial and signature on a notice (whose body must be `body`).
        public func attach(to notice: inout MessageProperties) {
            notice.headers[MessageProperties.HeaderName.revocationsSerial] = .int(Int64(clamping: serial))
            notice.headers[MessageProperties.HeaderName.revocationsSignature] = .bytes(signature)
        }

        /// The serial of a list the coordinator signs at `now` after `previous` (the last one
        /// it kept, `CoordinatorStore.revocationsSerial`): milliseconds since 1970, or one
        /// more than `previous` if that is larger, so a successor whose clock is behind
        /// still signs a larger one.
        public static func serial(after previous: UInt64?, now: Date = Date()) -> UInt64 {
            max(UInt64(max(0, now.timeIntervalSince1970 * 1000)), (previous ?? 0) + 1)
        }
    }
}

extension ModelVerifier {
    /// The revocation list a notice carries, if it is newer than `held`'s and signed by the
    /// coordinator; nil (and counted and logged, if it was bad) otherwise.
    public func revocations(_ delivery: Delivery, newerThan held: Revocations) -> (list: RevocationList, serial: UInt64)? {
        switch check(revocations: delivery, newerThan: held) {
        case .success(let found): return found
        case .failure(let rejection):
            PipelineMetrics.modelsRejected(rejection.reason).increment()
            logger.warning("revocation list on a version notice dropped", metadata: [
                "reason": "\(rejection.reason.name)", "detail": "\(rejection.detail)", "bytes": "\(delivery.body.count)",
            ])
            return nil
        }
    }

    /// The decision alone, for tests. Nothing to take (`.success(nil)`): no list on the
    /// notice, one no newer than `held`'s (checked first, so the list the coordinator
    /// repeats on every notice is neither verified nor parsed again), or no coordinator key
    /// to verify it with: a list is a security control, and an unverified one could
    /// readmit a revoked client.
    public func check(revocations delivery: Delivery, newerThan held: Revocations) -> Result<(list: RevocationList, serial: UInt64)?, Rejection> {
        let headers = delivery.properties.headers
        guard let serialHeader = headers[MessageProperties.HeaderName.revocationsSerial] else { return .success(nil) }
        guard let value = serialHeader.intValue, value >= 0 else {
            return .failure(Rejection(reason: .malformed, detail: "revocations-serial"))
        }
        let serial = UInt64(value)
        guard held.wouldAdopt(serial: serial), let coordinatorKey else { return .success(nil) }
        if let refused = Self.refusal(
            of: headers[MessageProperties.HeaderName.revocationsSignature], over: .revocations(serial: serial, body: delivery.body), by: coordinatorKey)
        {
            return .failure(refused)
        }
        guard let text = String(validating: delivery.body, as: UTF8.self) else {
            return .failure(Rejection(reason: .malformed, detail: "revocation-list: not UTF-8"))
        }
        do throws(TrustError) {
            return .success((try RevocationList(text: text), serial))
        } catch {
            return .failure(Rejection(reason: .malformed, detail: "revocation-list: \(error)"))
        }
    }
}
