import FedCore
import Foundation
import Messaging
import Trust

/// The messages of a shard claim on a stream updates path (docs/cluster.md, "The
/// updates path as a stream"; docs/wire-format.md, "Shard claims"): a claim's announcement
/// and answer, and for rebalancing a worker's want and the coordinator's release.
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
        /// On an announcement, and alone on a want: the claiming worker process's session
        /// id (16 lowercase hex digits, never zero), which tells the coordinator how many
        /// shards each worker holds.
        public static let worker = "x-fedq-claim-worker"
        /// On a release (value `1`): the coordinator asks the claim's worker to let go of the
        /// shard, signed as ``SignedStatement/streamRelease(shard:claim:)``.
        public static let release = "x-fedq-claim-release"
    }

    /// A worker claimed `shard` under `claim` (`ShardClaim`).
    public struct Announcement: Sendable, Equatable {
        public var shard: Int
        public var claim: UInt64
        /// The claiming worker's session (``HeaderName/worker``); nil from a worker that
        /// names none, whose shards rebalancing then leaves alone.
        public var worker: UInt64?

        public init(shard: Int, claim: UInt64, worker: UInt64? = nil) {
            self.shard = shard
            self.claim = claim
            self.worker = worker
        }

        public init(_ claim: ShardClaim, worker: UInt64? = nil) { self.init(shard: claim.shard, claim: claim.id, worker: worker) }

        /// The announcement's properties (its body is empty).
        public var properties: MessageProperties {
            var properties = MessageProperties()
            properties.headers = StreamClaimMessage.headers(shard: shard, claim: claim)
            if let worker { properties.headers[HeaderName.worker] = .string(StreamClaimMessage.hex(worker)) }
            return properties
        }

        /// The announcement `properties` carry: nil when they carry none (a partial, or a
        /// chunk of one); a typed rejection when they carry a broken one.
        public static func read(_ properties: MessageProperties) -> Result<Announcement, ModelVerifier.Rejection>? {
            guard properties.headers[HeaderName.shard] != nil || properties.headers[HeaderName.claim] != nil else { return nil }
            guard let (shard, claim) = StreamClaimMessage.shardAndClaim(properties.headers) else {
                return .failure(.init(reason: .malformed, detail: "claim-headers"))
            }
            var worker: UInt64?
            if let value = properties.headers[HeaderName.worker] {
                guard let id = StreamClaimMessage.id(value) else { return .failure(.init(reason: .malformed, detail: "claim-worker")) }
                worker = id
            }
            return .success(Announcement(shard: shard, claim: claim, worker: worker))
        }
    }

    /// A worker that found no free shard says so (bodiless, on the partials queue, like a
    /// claim): if another worker holds at least two shards more than this one, the
    /// coordinator asks it to release one (`ShardBalancer`).
    public struct Want: Sendable, Equatable {
        public var worker: UInt64

        public init(worker: UInt64) { self.worker = worker }

        public var properties: MessageProperties {
            var properties = MessageProperties()
            properties.headers = [HeaderName.worker: .string(StreamClaimMessage.hex(worker))]
            return properties
        }

        /// The want `properties` carry: nil when they carry none (a claim names a shard too);
        /// a typed rejection when it is broken.
        public static func read(_ properties: MessageProperties) -> Result<Want, ModelVerifier.Rejection>? {
            let headers = properties.headers
            guard let value = headers[HeaderName.worker], headers[HeaderName.shard] == nil, headers[HeaderName.claim] == nil
            else { return nil }
            guard let worker = StreamClaimMessage.id(value) else { return .failure(.init(reason: .malformed, detail: "claim-worker")) }
            return .success(Want(worker: worker))
        }
    }

    /// The coordinator asks the worker holding `claim` on `shard` to let it go: the worker
    /// stops reading the shard and deletes its claim queue, which frees the shard for the
    /// worker that wanted one. Sent into the claim queue, like an answer.
    public struct Release: Sendable, Equatable {
        public var shard: Int
        public var claim: UInt64

        public init(shard: Int, claim: UInt64) {
            self.shard = shard
            self.claim = claim
        }

        /// Adds the release's headers (and, with `key`, its signature) to `properties`.
        public func attach(to properties: inout MessageProperties, signedBy key: SigningKey?) {
            properties.headers.merge(StreamClaimMessage.headers(shard: shard, claim: claim)) { $1 }
            properties.headers[HeaderName.release] = .int(1)
            if let key {
                properties.headers[HeaderName.signature] = .bytes(key.sign(.streamRelease(shard: UInt64(shard), claim: claim)))
            }
        }

        /// The release `properties` carry: nil when they carry no release header; a typed
        /// rejection when it is broken or (with the coordinator's key) not the coordinator's.
        public static func read(_ properties: MessageProperties, coordinatorKey: VerifyingKey?) -> Result<Release, ModelVerifier.Rejection>? {
            let headers = properties.headers
            guard let flag = headers[HeaderName.release] else { return nil }
            guard flag.intValue == 1, let (shard, claim) = StreamClaimMessage.shardAndClaim(headers) else {
                return .failure(.init(reason: .malformed, detail: "claim-headers"))
            }
            if let rejection = StreamClaimMessage.unsigned(headers, statement: .streamRelease(shard: UInt64(shard), claim: claim), key: coordinatorKey) {
                return .failure(rejection)
            }
            return .success(Release(shard: shard, claim: claim))
        }
    }

    /// What a worker finds in its claim queue.
    public enum Reply: Sendable, Equatable {
        case answer(Answer)
        case release(Release)

        public var shard: Int {
            switch self {
            case .answer(let answer): answer.shard
            case .release(let release): release.shard
            }
        }

        public var claim: UInt64 {
            switch self {
            case .answer(let answer): answer.claim
            case .release(let release): release.claim
            }
        }

        /// The reply `properties` carry: nil when they carry none; a typed rejection when broken.
        public static func read(_ properties: MessageProperties, coordinatorKey: VerifyingKey?) -> Result<Reply, ModelVerifier.Rejection>? {
            if let release = Release.read(properties, coordinatorKey: coordinatorKey) { return release.map(Reply.release) }
            return Answer.read(properties, coordinatorKey: coordinatorKey)?.map(Reply.answer)
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
            if let rejection = StreamClaimMessage.unsigned(
                headers, statement: .streamClaim(shard: UInt64(shard), claim: claim, from: from), key: coordinatorKey)
            {
                return .failure(rejection)
            }
            return .success(Answer(shard: shard, claim: claim, from: from == 0 ? .first : .offset(from)))
        }
    }

    static func headers(shard: Int, claim: UInt64) -> [String: HeaderValue] {
        [HeaderName.shard: .int(Int64(shard)), HeaderName.claim: .string(hex(claim))]
    }

    /// An id as the wire writes it: 16 lowercase hex digits.
    static func hex(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// An id written as `hex` does, when `value` is one (and not zero).
    static func id(_ value: HeaderValue) -> UInt64? {
        guard let text = value.stringValue, text.count == 16, let id = UInt64(text, radix: 16), id != 0 else { return nil }
        return id
    }

    /// Why `headers` do not carry the coordinator's signature of `statement`: nil when they
    /// do, or when there is no key to check against (an unsigned deployment).
    static func unsigned(_ headers: [String: HeaderValue], statement: SignedStatement, key: VerifyingKey?) -> ModelVerifier.Rejection? {
        guard let key else { return nil }
        guard let signature = headers[HeaderName.signature]?.bytesValue else {
            return .init(reason: .unauthenticated, detail: TrustError.missingSignature.reasonCode)
        }
        guard key.verifies(signature, of: statement) else {
            return .init(reason: .unauthenticated, detail: TrustError.badSignature.reasonCode)
        }
        return nil
    }

    /// The shard and claim headers, when both are there and valid.
    static func shardAndClaim(_ headers: [String: HeaderValue]) -> (Int, UInt64)? {
        guard let shard = headers[HeaderName.shard]?.intValue, (0..<Int64(UpdateShards.slotCount)).contains(shard),
            let claim = headers[HeaderName.claim].flatMap(id)
        else { return nil }
        return (Int(shard), claim)
    }
}
