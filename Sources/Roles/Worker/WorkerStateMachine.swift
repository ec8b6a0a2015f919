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
        /// The message's CRC-32C trailer when it is booked under its update id (0 when
        /// under its digest): how the coordinator tells a copy from a replay of that id.
        public var checksum: UInt32 = 0
    }

    /// One flush: the partial of added updates, the settled (refused) entries, and how
    /// many of the oldest held deliveries they settle once the broker confirmed both.
    public struct Batch: Sendable, Equatable {
        public var partial: PartialAggregate
        public var settled: [PartialAggregateSummary.Settled]
        public var deliveries: Int
        /// Whether an update sent with an exact codec (fp32) is in the sum: the partial then
        /// travels as fp32, else as fp16 (``PartialPrecision``).
        public var holdsExactUpdates = false
        /// The added updates' message checksums, should the batch be reopened.
        var checksums: [UpdateID: UInt32] = [:]
    }

    public let spec: ModelSpec
    public let settings: WorkerSettings
    public private(set) var partial: PartialAggregate
    /// The ids in the open partial, with their message's checksum.
    private var ids: [UpdateID: UInt32] = [:]
    private var settled: [PartialAggregateSummary.Settled] = []
    /// Whether the open partial sums an update sent with an exact codec.
    private var holdsExactUpdates = false
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
    /// The newest base version of the updates taken before the first notice: the rate
    /// limit's clock until then (see `receive`).
    private var newestBaseUnheard: ModelVersion = 0
    /// How far ahead of the newest notice an update's base version may be: a client can
    /// receive a version (on `fedq.models`) and train on it before its notice reaches the
    /// worker (on `fedq.versions`), but not several versions before.
    public static let versionLead: ModelVersion = 2
    /// With an issuer key: checks every update's credential and signature (and keeps the
    /// credentials that verified, so the usual update costs one signature check).
    private var authenticator: UpdateAuthenticator?
    /// What the defences learned of this run (recent norms, sample counts, each client's
    /// updates this version).
    private var defence: DefenceState
    /// Updates that passed every check but wait for an adaptive bound to have seen enough
    /// norms (`NormBound.warmUpNorms`): the first update a worker ever sees does not set
    /// the bound it is judged by.
    private var waiting: [Accepted] = []
    /// How long updates wait for the bound at most before they are clipped to what the
    /// norms seen so far give.
    public static let warmUpWait: Duration = .seconds(1)
    /// The ids this worker summed into partials it already handed out, with their checksums.
    private var recent = RecentIDs(capacity: Self.recentWindow)
    /// 65,536 ids: minutes of a busy worker's updates, 1.5 MB.
    public static let recentWindow = 1 << 16
    /// The ids this worker summed again because the coordinator asked them back: each once.
    private var returnedIDs = RecentIDs(capacity: 1 << 12)
    /// Updates scaled down by a norm bound so far (for the metric and the attack benchmark).
    public private(set) var clippedCount = 0

    public init(spec: ModelSpec, settings: WorkerSettings) {
        self.spec = spec
        self.settings = settings
        partial = PartialAggregate(dimension: spec.parameterCount)
        authenticator = settings.issuer.map { UpdateAuthenticator(issuer: $0, revocations: settings.revocations) }
        var defences = settings.defences
        // Differential privacy clips every update to its fixed C already, which is the bound
        // its guarantee rests on; an adaptive bound on top would only hold updates back.
        if settings.clipNorm != nil { defences.norm = .off }
        defence = DefenceState(defences)
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
    /// read: the AMQP message id is the sender's say-so. A proven client's second and later
    /// updates from one base version travel alone (see `redelivered`), where the coordinator
    /// can hold the client to its share of an aggregate across workers without touching
    /// anyone else's.
    /// - Parameters:
    ///   - properties: the message's properties (its `x-fedq-credential` and `x-fedq-signature`).
    ///   - redelivered: the broker handed it out before: it may already be in a partial
    ///     the coordinator applied, so it travels alone in a partial of its own, which the
    ///     coordinator can recognise whole and skip.
    ///   - unixTime: now in unix seconds, for credential expiry.
    ///   - shard: the updates path's shard it was read from (nil: a reassembled chunked
    ///     update, or a returned one, which bypass the shards). A proven client's update must
    ///     come from its own.
    ///   - returned: an update this worker summed before, which the coordinator asked back
    ///     (`PartialReturn`): judged again (it may be stale now), but not authenticated again,
    ///     refused as one this worker summed already, nor counted against its client's rate
    ///     once more; it travels alone, as a redelivered one does.
    public mutating func receive(
        _ body: [UInt8], properties: MessageProperties = MessageProperties(), redelivered: Bool,
        now: ContinuousClock.Instant = .now, unixTime: UInt64 = UInt64(Date().timeIntervalSince1970), shard: Int? = nil,
        returned: Bool = false
    ) -> Decision {
        var credential: ClientCredential?
        // A returned update is bytes this worker verified when it first took them, out of its
        // own memory: not checked again, so a credential that expired or was revoked since
        // cannot book it a second time, under its digest, beside the coordinator's request.
        do throws(TrustError) {
            if !returned { credential = try authenticator?.authenticate(
                body: body, credential: properties.headers[MessageProperties.HeaderName.credential]?.bytesValue,
                signature: properties.headers[MessageProperties.HeaderName.signature]?.bytesValue, now: unixTime) }
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
        // Only a proven id is held to its shard: an unsigned one is whatever the sender claims.
        if let shard, credential != nil, settings.shards.shard(ofClient: header.clientID) != shard {
            return unjudged(
                .misrouted,
                "misrouted: client \(header.clientID) publishes to shard \(settings.shards.shard(ofClient: header.clientID)), read from shard \(shard)",
                body: body, baseVersion: header.modelVersion)
        }
        // A returned update was summed here before, so it is in `recent`; only a second
        // return of it (two copies of one message were kept) settles with the first.
        let summed = returned ? returnedIDs.checksum(of: header.updateID) : ids[header.updateID] ?? recent.checksum(of: header.updateID)
        if returned { returnedIDs.insert(header.updateID, checksum: envelope.checksum) }
        if let first = summed {
            // The same bytes again: a client republished what it saw no confirm for. The
            // first copy counts and this one settles with it (effectively once).
            if first == envelope.checksum {
                hold(now: now)
                return .added(batches: [])
            }
            // Another message under an id already taken here: booked as a duplicate under
            // its own bytes' digest, never merged away, and caught before it is summed (at
            // the coordinator it would cost the updates of the partial it rode in).
            return unjudged(
                .duplicate, "update \(header.updateID) was already summed by this worker", body: body, baseVersion: header.modelVersion)
        }
        // A base version no model has had yet is not physical: refused, typed, and it moves
        // nothing (an update only ever counts as fresh against the versions announced).
        if heardNotice, header.modelVersion > knownVersion &+ Self.versionLead {
            return judged(
                .outOfBounds, "base-version-ahead: \(header.modelVersion) > newest version \(knownVersion) + \(Self.versionLead)", envelope)
        }
        if let refusal = defence.refusal(samples: header.sampleCount) {
            return judged(.outOfBounds, refusal, envelope)
        }
        let samples = settings.staleness.weighsBySamples ? defence.weighedSamples(claimed: header.sampleCount) : 1
        switch settings.staleness.verdict(base: header.modelVersion, current: knownVersion, samples: samples) {
        case .dropStale(let tau):
            return judged(.stale, "stale: \(tau) versions behind (max \(settings.staleness.horizon))", envelope)
        case .accept(_, let weight, let mass):
            // Counted against the client's share of this version only once it would be
            // taken, so a stale or refused update costs the client nothing. Before the first
            // notice the worker has no clock in versions (it starts at 0 whatever the run's
            // version): a worker that joins mid-run reads a backlog of updates sent over many
            // versions, one per version from each honest client, and counting them all at 0
            // refused them as a flood. Until then the newest base version seen stands in for
            // the clock: it moves as the backlog's versions do, and never back, so a flood
            // interleaved with older updates is still counted at one version. (A flood that
            // claims ever newer bases is what the first notice ends, refusing bases beyond
            // the newest version + `versionLead`; the coordinator's fleet-wide limit,
            // `FleetClientLimit`, holds every client to its share of each aggregate meanwhile.)
            if !heardNotice { newestBaseUnheard = max(newestBaseUnheard, header.modelVersion) }
            let rateVersion = heardNotice ? knownVersion : newestBaseUnheard
            guard returned || defence.admit(client: header.clientID, version: rateVersion) else {
                return judged(
                    .rateLimited,
                    "rate-limited: client \(header.clientID) had \(settings.defences.updatesPerClientVersion ?? 0) updates at version \(rateVersion)",
                    envelope)
            }
            // A proven client's second and later updates from one base version (at this
            // version) travel alone, so that the coordinator, which holds each client to its
            // share across all workers (`FleetClientLimit`), can refuse one without the other
            // clients' updates beside it. An honest client trains once per version it
            // receives, so its updates never repeat a base; a flood's excess does.
            let repeated = credential != nil && !returned && defence.repeats(client: header.clientID, base: header.modelVersion)
            return add(
                Accepted(envelope: envelope, weight: weight, mass: mass), alone: redelivered || returned || repeated, now: now, body: body)
        }
    }

    /// An update that passed every check, on its way into the partial.
    private struct Accepted: Sendable {
        var envelope: Envelope
        var weight: Float
        var mass: Float
        /// Its L2 norm, when a bound needs it (0 otherwise).
        var norm: Double = 0
    }

    /// Bounds the norm of `update` and adds it to the open partial (or, while an adaptive
    /// bound is still learning the run's norms, to the updates waiting for it).
    /// - Parameter alone: it travels in a partial of its own (redelivered, returned, or a
    ///   proven client's second update from one base version; see `receive`).
    private mutating func add(_ update: Accepted, alone: Bool, now: ContinuousClock.Instant, body: [UInt8]) -> Decision {
        var update = update
        let header = update.envelope.header
        if needsNorm {
            // Read off the payload (int8: one pass over its bytes, no decoded vector); the
            // update is then accumulated straight from its bytes, scaled by its clip.
            update.norm = update.envelope.l2Norm()
            if let maxNorm = settings.maxNorm, update.norm > Double(maxNorm) {
                return judged(.outOfBounds, "l2-norm \(update.norm) > \(maxNorm)", update.envelope)
            }
            defence.record(norm: update.norm)
        }
        var batches: [Batch] = []
        // Flush what is open so this one travels alone (see `receive`'s doc), or, under
        // differential privacy, so that no partial holds two updates of one client: the
        // coordinator can hold a partial back to the next aggregate to keep one update per
        // client in each, but never split one (docs/privacy.md, "One update per client per
        // aggregate").
        let repeatsClient = settings.clipNorm != nil && partial.entries.contains { $0.clientID == header.clientID }
        let before = alone || repeatsClient ? takeBatch() : nil
        if !alone, !defence.isWarm {
            // Too few norms yet to judge this one alone: it waits, held, for the bound the
            // next few updates make (or for the flush, `warmUpWait` at most).
            waiting.append(update)
            ids[header.updateID] = update.envelope.checksum
            hold(now: now)
            return .added(batches: [])
        }
        admitWaiting()
        do {
            try admit(update)
        } catch {
            // Accumulation validates before it writes, so the sum is untouched; what
            // was open stays open.
            if let before { reopen(before, now: now) }
            return unjudged(.malformed, "accumulate: \(error)", body: body, baseVersion: header.modelVersion)
        }
        if let before { batches.append(before) }
        ids[header.updateID] = update.envelope.checksum
        hold(now: now)
        if alone || partial.count >= settings.flushUpdates, let batch = takeBatch() { batches.append(batch) }
        return .added(batches: batches)
    }

    /// Whether updates are decoded for their norm: a bound to refuse over, DP's clip, or a clip.
    private var needsNorm: Bool { settings.maxNorm != nil || settings.clipNorm != nil || settings.defences.norm != .off }

    /// The norm an update is clipped to now: the tighter of DP's clip and the defences' bound.
    private var clipLimit: Double? {
        switch (settings.clipNorm, defence.normLimit) {
        case (let dp?, let bound?): min(dp, bound)
        case (let dp?, nil): dp
        case (nil, let bound): bound
        }
    }

    /// Adds one update to the partial, straight from its bytes, scaled down to `clipLimit`.
    private mutating func admit(_ update: Accepted) throws {
        let header = update.envelope.header
        var scale: Float = 1
        if let limit = clipLimit, update.norm > limit {
            scale = Float(limit / update.norm)
            clippedCount += 1
            PipelineMetrics.updatesClipped.increment()
        }
        try partial.add(
            id: header.updateID, baseVersion: header.modelVersion, checksum: update.envelope.checksum, clientID: header.clientID,
            weight: update.weight, mass: update.mass
        ) { sum, weight in try update.envelope.accumulate(into: sum, weight: weight * scale) }
        if header.codec.values.isExact { holdsExactUpdates = true }
    }

    /// Adds the updates that waited for the bound, each clipped to what it is now.
    private mutating func admitWaiting() {
        guard !waiting.isEmpty else { return }
        let updates = waiting
        waiting = []
        // Their bytes were checked already, so adding cannot fail.
        for update in updates { try? admit(update) }
    }

    /// Books a refused update once its message is parked in `fedq.dead`.
    public mutating func settleRefused(_ refusal: Refusal, now: ContinuousClock.Instant = .now) {
        settled.append(.init(updateID: refusal.id, baseVersion: refusal.baseVersion, reason: refusal.reason, checksum: refusal.checksum))
        hold(now: now)
    }

    /// The open batch when its oldest update has waited a flush interval, else nil.
    public mutating func batchIfDue(now: ContinuousClock.Instant = .now) -> Batch? {
        guard let oldest else { return nil }
        let wait = defence.isWarm || waiting.isEmpty ? settings.flushInterval : max(settings.flushInterval, Self.warmUpWait)
        guard now - oldest >= wait else { return nil }
        return takeBatch()
    }

    /// Takes the open partial and settled entries out (nil when nothing is held), so
    /// the worker takes more updates while the batch is published.
    public mutating func takeBatch() -> Batch? {
        guard heldDeliveries > 0 else { return nil }
        admitWaiting()
        for (id, checksum) in ids { recent.insert(id, checksum: checksum) }
        defer {
            partial = PartialAggregate(dimension: spec.parameterCount)
            ids = [:]
            settled = []
            heldDeliveries = 0
            oldest = nil
            holdsExactUpdates = false
        }
        return Batch(
            partial: partial, settled: settled, deliveries: heldDeliveries, holdsExactUpdates: holdsExactUpdates, checksums: ids)
    }

    private mutating func reopen(_ batch: Batch, now: ContinuousClock.Instant) {
        partial = batch.partial
        ids = batch.checksums
        settled = batch.settled
        heldDeliveries = batch.deliveries
        holdsExactUpdates = batch.holdsExactUpdates
        oldest = now
    }

    private mutating func hold(now: ContinuousClock.Instant) {
        heldDeliveries += 1
        if oldest == nil { oldest = now }
    }

    /// Refused as an admitted client's update (it decoded and, with an issuer key, proved
    /// its sender): booked under its own update id, so a client's republished copy of a
    /// stale update settles with the first.
    private func judged(_ reason: RejectionReason, _ detail: String, _ envelope: Envelope) -> Decision {
        .refuse(Refusal(
            reason: reason, detail: detail, id: envelope.header.updateID, baseVersion: envelope.header.modelVersion,
            checksum: envelope.checksum))
    }

    /// Refused before it could be taken as anyone's update: booked under its bytes' digest,
    /// never under an id it claims (`Settlement`).
    private func unjudged(_ reason: RejectionReason, _ detail: String, body: [UInt8], baseVersion: ModelVersion = 0) -> Decision {
        .refuse(Refusal(reason: reason, detail: detail, id: Settlement.fnv1a128(body), baseVersion: baseVersion))
    }
}
