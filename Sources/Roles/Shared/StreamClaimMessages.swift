import FedCore
import Foundation
import Messaging
import Trust

/// The two messages of a shard claim on a stream updates path (docs/cluster.md, "The
/// updates path as a stream"; docs/wire-format.md, "Shard claims").
///
/// A worker that took shard `k`'s claim queue announces the claim on the partials queue,
/// where it queues behind every partial its predecessor managed to publish; the coordinator
/// takes those first, records the claim in its ledger, and answers in the worker's claim
/// queue (`ShardClaim.queueName`, through the default exchange) with where the new owner
/// reads from. Both are bodiless: their headers are the message.
public enum StreamClaimMessage {
    /// The headers both messages carry.
    public enum HeaderName {
        /// The shard (an integer, 0 ≤ shard < `UpdateShards.slotCount`).
        public static let shard = "x-fedq-claim-shard"
        /// The claim's id: 16 lowercase hex digits, never zero.
        public static let claim = "x-fedq-claim-id"
        /// On an answer: the first offset the claim's reader takes, in decimal; `0` is the
        /// stream's start.
        public static let from = "x-fedq-claim-from"
        /// On an answer from a coordinator with a signing key: the Ed25519 signature of
        /// ``SignedStatement/streamClaim(shard:claim:from:)``.
        public static let signature = "x-fedq-claim-signature"
    }

    /// A worker claimed `shard` under `claim` (`ShardClaim`).
    public struct Announcement: Sendable, Equatable {
        public var shard: Int
        public var claim: UInt64

        public init(shard: Int, claim: UInt64) {
            self.shard = shard
            self.claim = claim
        }

        public init(_ claim: ShardClaim) { self.init(shard: claim.shard, claim: claim.id) }

        /// The announcement's properties (its body is empty).
        public var properties: MessageProperties {
            var properties = MessageProperties()
            properties.headers = StreamClaimMessage.headers(shard: shard, claim: claim)
            return properties
        }

        /// The announcement `properties` carry: nil when they carry none (a partial, or a
        /// chunk of one); a typed rejection when they carry a broken one.
        public static func read(_ properties: MessageProperties) -> Result<Announcement, ModelVerifier.Rejection>? {
            guard properties.headers[HeaderName.shard] != nil || properties.headers[HeaderName.claim] != nil else { return nil }
            guard let (shard, claim) = StreamClaimMessage.shardAndClaim(properties.headers) else {
                return .failure(.init(reason: .malformed, detail: "claim-headers"))
            }
            return .success(Announcement(shard: shard, claim: claim))
        }
    }

    /// The coordinator recorded `claim` as the owner of `shard`, whose reader starts at `from`.
    public struct Answer: Sendable, Equatable {
        public var shard: Int
        public var claim: UInt64
        public var from: StreamOffset

        public init(shard: Int, claim: UInt64, from: StreamOffset) {
            self.shard = shard
            self.claim = claim
            self.from = from
        }

        /// `from` as the wire's integer: the stream's start is offset 0 (the ledger resumes
        /// at `.first` only before anything was taken, so no other answer says 0).
        var fromOffset: UInt64 {
            switch from {
            case .first, .next: 0
            case .offset(let offset): offset
            }
        }

        /// Adds the answer's headers (and, with `key`, its signature) to `properties`.
        public func attach(to properties: inout MessageProperties, signedBy key: SigningKey?) {
            properties.headers.merge(StreamClaimMessage.headers(shard: shard, claim: claim)) { $1 }
            properties.headers[HeaderName.from] = .string(String(fromOffset))
            if let key {
                properties.headers[HeaderName.signature] = .bytes(
                    key.sign(.streamClaim(shard: UInt64(shard), claim: claim, from: fromOffset)))
            }
        }

        /// The answer `properties` carry: nil when they carry none; a typed rejection when
        /// it is broken or (with the coordinator's key) not the coordinator's.
        public static func read(_ properties: MessageProperties, coordinatorKey: VerifyingKey?) -> Result<Answer, ModelVerifier.Rejection>? {
            let headers = properties.headers
            guard headers[HeaderName.shard] != nil || headers[HeaderName.claim] != nil else { return nil }
            guard let (shard, claim) = StreamClaimMessage.shardAndClaim(headers),
                let from = headers[HeaderName.from]?.stringValue.flatMap({ UInt64($0) })
            else { return .failure(.init(reason: .malformed, detail: "claim-headers")) }
            if let coordinatorKey {
                guard let signature = headers[HeaderName.signature]?.bytesValue else {
                    return .failure(.init(reason: .unauthenticated, detail: TrustError.missingSignature.reasonCode))
                }
                guard coordinatorKey.verifies(signature, of: .streamClaim(shard: UInt64(shard), claim: claim, from: from)) else {
                    return .failure(.init(reason: .unauthenticated, detail: TrustError.badSignature.reasonCode))
                }
            }
            return .success(Answer(shard: shard, claim: claim, from: from == 0 ? .first : .offset(from)))
        }
    }

    static func headers(shard: Int, claim: UInt64) -> [String: HeaderValue] {
        let hex = String(claim, radix: 16)
        return [
            HeaderName.shard: .int(Int64(shard)),
            HeaderName.claim: .string(String(repeating: "0", count: 16 - hex.count) + hex),
        ]
    }

    /// The shard and claim headers, when both are there and valid.
    static func shardAndClaim(_ headers: [String: HeaderValue]) -> (Int, UInt64)? {
        guard let shard = headers[HeaderName.shard]?.intValue, (0..<Int64(UpdateShards.slotCount)).contains(shard),
            let text = headers[HeaderName.claim]?.stringValue, text.count == 16, let claim = UInt64(text, radix: 16), claim != 0
        else { return nil }
        return (Int(shard), claim)
    }
}
