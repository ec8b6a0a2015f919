import Aggregation
import FedCore
import Foundation
import Learning
import Trust
import Wire

/// An aggregator worker's decisions, with no I/O: an update's bytes go in, a
/// decision comes out, and `AggregatorWorker` (the actor around it) only parks
/// refused messages, publishes batches and acknowledges as it is told. A test can
/// drive every rule without a broker.
///
/// Deliveries are not in here (they are the broker's handles): the machine counts
/// how many it holds, and each `Batch` says how many of the oldest held deliveries
/// it settles, in order.
public struct WorkerStateMachine: Sendable {
    /// What becomes of one update.
    public enum Decision: Sendable, Equatable {
        /// Park it in `fedq.dead` for `reason`, then call `settleRefused(_:)` with it:
        /// the coordinator books it once, under `id`.
        case refuse(Refusal)
        /// Added to the open partial; publish `batches` (zero, one or two, oldest first).
        case added(batches: [Batch])
    }

    /// A refused update, as the coordinator will book it.
    public struct Refusal: Sendable, Equatable {
        public var reason: RejectionReason
        public var detail: String
        /// The id it is booked under: its update id once it was judged as an admitted
        /// client's update (stale, out of bounds), else the digest of its bytes (`Settlement`).
        public var id: UpdateID
        public var baseVersion: ModelVersion
    }

    /// One flush: the partial of added updates, the settled (refused) entries, and how
    /// many of the oldest held deliveries they settle once the broker confirmed both.
    public struct Batch: Sendable, Equatable {
        public var partial: PartialAggregate
        public var settled: [PartialAggregateSummary.Settled]
        public var deliveries: Int
        /// The added updates' message checksums, should the batch be reopened.
        var checksums: [UpdateID: UInt32] = [:]
    }

    public let spec: ModelSpec
    public let settings: WorkerSettings
    public private(set) var partial: PartialAggregate
    /// The ids in the open partial, with their message's checksum.
    private var ids: [UpdateID: UInt32] = [:]
    private var settled: [PartialAggregateSummary.Settled] = []
    /// Deliveries behind the open partial and settled entries, not yet in a batch.
    public private(set) var heldDeliveries = 0
    private var oldest: ContinuousClock.Instant?
    /// The newest global version this worker has heard of: staleness is measured against it.
    /// Only the coordinator's version notices move it, never an update's claim: one update
    /// claiming base version 10^9 once made every honest update look stale (issue 16).
    public private(set) var knownVersion: ModelVersion = 0
    /// Whether a version notice arrived yet; before one, the worker cannot tell a future
    /// base version from a version it has not heard of.
    private var heardNotice = false
    /// How far ahead of the newest notice an update's base version may be: a client can
    /// receive a version (on `fedq.models`) and train on it before its notice reaches the
    /// worker (on `fedq.versions`), but not several versions before.
    public static let versionLead: ModelVersion = 2
    /// With an issuer key: checks every update's credential and signature (and keeps the
    /// credentials that verified, so the usual update costs one signature check).
    private var authenticator: UpdateAuthenticator?

    public init(spec: ModelSpec, settings: WorkerSettings) {
        self.spec = spec
        self.settings = settings
        partial = PartialAggregate(dimension: spec.parameterCount)
        authenticator = settings.issuer.map { UpdateAuthenticator(issuer: $0) }
    }

    /// A version announced by the coordinator (its notice on `fedq.versions`).
    public mutating func heard(_ version: ModelVersion) {
        knownVersion = max(knownVersion, version)
        heardNotice = true
    }

    /// Judges one update and, when it is accepted, decodes it straight into the open partial.
    ///
    /// With an issuer key the credential and signature are checked first, so bytes no
    /// admitted client signed never reach the decoder; the envelope's client id is then
    /// held against the credential's. Nothing in `properties` but those two headers is
    /// read: the AMQP message id is the sender's say-so.
    /// - Parameters:
    ///   - properties: the message's properties (its `x-fedq-credential` and `x-fedq-signature`).
    ///   - redelivered: the broker handed it out before: it may already be in a partial
    ///     the coordinator applied, so it travels alone in a partial of its own, which the
    ///     coordinator can recognise whole and skip.
    ///   - unixTime: now in unix seconds, for credential expiry.
    public mutating func receive(
        _ body: [UInt8], properties: MessageProperties = MessageProperties(), redelivered: Bool,
        now: ContinuousClock.Instant = .now, unixTime: UInt64 = UInt64(Date().timeIntervalSince1970)
    ) -> Decision {
        var credential: ClientCredential?
        do throws(TrustError) {
            credential = try authenticator?.authenticate(
                body: body, credential: properties.headers[MessageProperties.HeaderName.credential]?.bytesValue,
                signature: properties.headers[MessageProperties.HeaderName.signature]?.bytesValue, now: unixTime)
        } catch {
            return unjudged(.unauthenticated, "\(error.reasonCode): \(error)", body: body)
        }
        let envelope: Envelope
        do throws(WireError) {
            envelope = try Envelope(bytes: body, limits: settings.limits, expecting: PipelineMessage.expectation(spec))
            guard envelope.header.kind == .clientUpdate else {
                throw WireError.inconsistentInput(field: .kind, reason: "expected a client update, got \(envelope.header.kind)")
            }
        } catch {
            return unjudged(error.rejectionReason, error.reasonCode, body: body)
        }
        let header = envelope.header
        do throws(TrustError) {
            try credential?.checkSpeaks(for: header.clientID)
        } catch {
            return unjudged(.unauthenticated, "\(error.reasonCode): \(error)", body: body)
        }
        // Decoded once when a norm is needed (a bound or DP's clip); otherwise the update is
        // decoded straight into the partial's sum.
        var delta: [Float]? = settings.maxNorm != nil || settings.clipNorm != nil ? envelope.decode() : nil
        if let maxNorm = settings.maxNorm, let values = delta {
            let norm = values.l2Norm()
            guard norm <= Double(maxNorm) else {
                return judged(.outOfBounds, "l2-norm \(norm) > \(maxNorm)", header)
            }
        }
        if let first = ids[header.updateID] {
            // The same bytes again: a client republished what it saw no confirm for. The
            // first copy counts and this one settles with it (effectively once).
            if first == envelope.checksum {
                hold(now: now)
                return .added(batches: [])
            }
            // Another message under an id already taken: booked as a duplicate under its
            // own bytes' digest, never merged away.
            return unjudged(.duplicate, "update \(header.updateID) is already in this partial", body: body, baseVersion: header.modelVersion)
        }
        // A base version no model has had yet is not physical: refused, typed, and it moves
        // nothing (an update only ever counts as fresh against the versions announced).
        if heardNotice, header.modelVersion > knownVersion &+ Self.versionLead {
            return judged(
                .outOfBounds, "base-version-ahead: \(header.modelVersion) > newest version \(knownVersion) + \(Self.versionLead)", header)
        }
        // A claimed sample count beyond Int (2^63 and up) is clamped, never trapped on.
        switch settings.staleness.verdict(base: header.modelVersion, current: knownVersion, samples: Int(clamping: header.sampleCount)) {
        case .dropStale(let tau):
            return judged(.stale, "stale: \(tau) versions behind (max \(settings.staleness.maxStaleness ?? 0))", header)
        case .accept(_, let weight, let mass):
            var batches: [Batch] = []
            // Redelivered: flush what is open so this one travels alone (see `receive`'s doc).
            let before = redelivered ? takeBatch() : nil
            do {
                if var values = delta {
                    if let clip = settings.clipNorm { values.clip(toNorm: clip) }
                    delta = nil
                    try partial.add(id: header.updateID, baseVersion: header.modelVersion, weight: weight, mass: mass, delta: values)
                } else {
                    try partial.add(id: header.updateID, baseVersion: header.modelVersion, weight: weight, mass: mass) {
                        sum, weight in try envelope.accumulate(into: sum, weight: weight)
                    }
                }
            } catch {
                // Accumulation validates before it writes, so the sum is untouched; what
                // was open stays open.
                if let before { reopen(before, now: now) }
                return unjudged(.malformed, "accumulate: \(error)", body: body, baseVersion: header.modelVersion)
            }
            if let before { batches.append(before) }
            ids[header.updateID] = envelope.checksum
            hold(now: now)
            if redelivered || partial.count >= settings.flushUpdates, let batch = takeBatch() { batches.append(batch) }
            return .added(batches: batches)
        }
    }

    /// Books a refused update once its message is parked in `fedq.dead`.
    public mutating func settleRefused(_ refusal: Refusal, now: ContinuousClock.Instant = .now) {
        settled.append(.init(updateID: refusal.id, baseVersion: refusal.baseVersion, reason: refusal.reason))
        hold(now: now)
    }

    /// The open batch when its oldest update has waited a flush interval, else nil.
    public mutating func batchIfDue(now: ContinuousClock.Instant = .now) -> Batch? {
        guard let oldest, now - oldest >= settings.flushInterval else { return nil }
        return takeBatch()
    }

    /// Takes the open partial and settled entries out (nil when nothing is held), so
    /// the worker takes more updates while the batch is published.
    public mutating func takeBatch() -> Batch? {
        guard heldDeliveries > 0 else { return nil }
        defer {
            partial = PartialAggregate(dimension: spec.parameterCount)
            ids = [:]
            settled = []
            heldDeliveries = 0
            oldest = nil
        }
        return Batch(partial: partial, settled: settled, deliveries: heldDeliveries, checksums: ids)
    }

    private mutating func reopen(_ batch: Batch, now: ContinuousClock.Instant) {
        partial = batch.partial
        ids = batch.checksums
        settled = batch.settled
        heldDeliveries = batch.deliveries
        oldest = now
    }

    private mutating func hold(now: ContinuousClock.Instant) {
        heldDeliveries += 1
        if oldest == nil { oldest = now }
    }

    /// Refused as an admitted client's update (it decoded and, with an issuer key, proved
    /// its sender): booked under its own update id, so a client's republished copy of a
    /// stale update settles with the first.
    private func judged(_ reason: RejectionReason, _ detail: String, _ header: MessageHeader) -> Decision {
        .refuse(Refusal(reason: reason, detail: detail, id: header.updateID, baseVersion: header.modelVersion))
    }

    /// Refused before it could be taken as anyone's update: booked under its bytes' digest,
    /// never under an id it claims (`Settlement`).
    private func unjudged(_ reason: RejectionReason, _ detail: String, body: [UInt8], baseVersion: ModelVersion = 0) -> Decision {
        .refuse(Refusal(reason: reason, detail: detail, id: Settlement.fnv1a128(body), baseVersion: baseVersion))
    }
}
