import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
import Privacy
import Wire

/// The coordinator's decisions, with no I/O: a partial (or a clock tick, or the end
/// of a run) goes in, an action comes out, and `Coordinator` (the actor around it)
/// only persists, publishes and acknowledges as the action says. Every rule of the
/// effectively-once accounting lives here, where a test can drive it without a
/// broker (swift-kafka-client's `KafkaProducer` and its state machine are the model).
///
/// The rules, for one partial:
/// - undecodable: parked in `fedq.dead` as `malformed` (its updates cannot be named);
/// - settled entries (updates a worker refused) are booked once each, by id;
/// - a partial whose updates are all settled or buffered is a redelivery: acknowledged;
/// - one mixing counted and new updates (a replay, or two workers raced over one
///   redelivered update) cannot be split: parked as `duplicate`; its new updates are asked
///   back from its worker when it carries a return address (`PartialReturn`), and booked as
///   duplicates when it does not or they do not come back in time;
/// - under differential privacy, a partial holding a client that the aggregate being filled
///   holds already: postponed, unacknowledged, to the next aggregate (one update per client
///   per aggregate, which the noise is sized for); a stream partial's range stays held in
///   the ledger until an aggregate takes it;
/// - one that would take a client beyond its share of the aggregate being filled
///   (`FleetClientLimit`): refused and booked `rate-limited` when it holds nothing else, taken
///   whole otherwise (a defence never costs another client's update);
/// - otherwise the strategy buffers it, says the aggregate is ready, or refuses it.
public struct CoordinatorStateMachine: Sendable {
    /// What to do with one partial's delivery. Every case persists `records` first
    /// (when there are any): the books never lag what was acknowledged.
    public enum Action: Sendable, Equatable {
        /// Acknowledge the partial.
        case acknowledge(records: [SettlementRecord])
        /// Keep the partial unacknowledged: the strategy buffers it until it is applied.
        case hold(records: [SettlementRecord])
        /// Keep the partial unacknowledged, outside the buffer, and `receive` it again once
        /// the aggregate being filled is applied or refused: a private run's partial holding a
        /// client that aggregate holds already (one update per client per aggregate).
        /// `applyNow`: the partials held and postponed fill `partialWindow`, so the broker
        /// will send no more: apply the buffer as it stands (short of its size), or it would
        /// wait for ever.
        case postpone(records: [SettlementRecord], applyNow: Bool)
        /// Park the partial in `fedq.dead` with this reason, then acknowledge it.
        case deadLetter(reason: RejectionReason, detail: String, records: [SettlementRecord])
        /// Hold the partial and apply the buffer now (`applyBuffer(booking:)`), which
        /// also settles `records`.
        case apply(records: [SettlementRecord])
        /// A partial that mixed counted and new updates: park it (`duplicate`, with `detail`),
        /// persist `records` and the request (`state.pendingReturns`, even with no record),
        /// acknowledge it, and send a notice carrying the requests (`returnRequests`).
        case returnUpdates(detail: String, records: [SettlementRecord])
        /// A stream partial that does not continue its shard: park it (`malformed`, with
        /// `detail`), acknowledge it, and tell the shard's reader, in its claim queue, to
        /// read again from `answer.from`.
        case rewind(StreamClaimMessage.Answer, detail: String)
    }

    /// A partial as it came off the queue: decoded, or why not.
    public enum Input: Sendable {
        /// `range`: where a partial of a stream updates path was read from (nil: queue shards).
        case partial(PartialAggregate, settled: [PartialAggregateSummary.Settled], range: PartialAggregateSummary.StreamRange? = nil)
        case undecodable(detail: String)
    }

    /// What became of a buffer: a new version to publish and what it settled, or (the
    /// privacy budget spent) its updates refused and no version, or, when the run averages
    /// its versions, the first such refusal together with the average as the last version.
    public struct Applied: Sendable {
        public var model: GlobalModel
        public var records: [SettlementRecord]
        /// The staleness of each applied update, for the histogram.
        public var staleness: [Int]
        /// Why the buffer was refused whole rather than applied (`privacyBudget`,
        /// `nonFinite`). Nil for a new version.
        public var refusal: RejectionReason? = nil
        /// The budget ran out with this refusal and `model` is the average of the versions,
        /// released as the last one (`IterateAverage`).
        public var releasesAverage = false
        /// Whether there is a new version to publish.
        public var released: Bool { refusal == nil || releasesAverage }
    }

    public private(set) var state: CoordinatorState
    private var strategy: AggregationStrategy
    /// Ids inside partials the strategy buffers (not settled until applied).
    /// (with their messages' checksums).
    private var pendingIDs: [UpdateID: UInt32] = [:]
    /// When the oldest buffered partial arrived.
    private(set) var pendingSince: ContinuousClock.Instant?

    /// Differential privacy's settings (nil: none); the spent budget is `state.privacy`.
    public let privacy: DifferentialPrivacy?
    /// Each client's updates in the aggregate being filled, held to its share (nil: no limit
    /// and no privacy; a private run without a limit counts them all the same).
    private var clientLimit: FleetClientLimit?
    /// Private aggregates that held more than one update of some client, and the most any
    /// client had in one: the noise is sized for one (`docs/privacy.md`, "One update per
    /// client per aggregate"), so these say how often, and how far, that assumption did not
    /// hold. Counted since this process started (not checkpointed).
    public private(set) var repeatedClientAggregates = 0
    public private(set) var largestClientShare = 0
    /// Private partials held back to a later aggregate because the one being filled held
    /// one of their clients already (`Action.postpone`); counted each time, since this
    /// process started.
    public private(set) var postponedPartials = 0
    /// The stream ranges of the partials in the buffer: applying (or refusing) it settles
    /// these and no other held range. A postponed partial's range stays held, and so does
    /// one a restarted coordinator's checkpoint holds whose partial the broker has not given
    /// back yet: settling every held range at each aggregate lost both (CI: 21 updates of
    /// partials postponed before a kill -9, whose restarted coordinator filled and applied a
    /// buffer from the partials returned before them). In memory only: the checkpoint holds
    /// the ranges, and the broker gives their partials back.
    private var bufferedRanges: [Int: [StreamLedger.Held]] = [:]
    /// How many partials the coordinator may hold unacknowledged at once: its prefetch on
    /// the partials queue (nil: no bound). Postponed partials take room in it as buffered
    /// ones do, and once they fill it nothing more arrives to fill the buffer. Measured: 20
    /// WDBC hospitals on a stream updates path, where each worker reads the same 10 clients
    /// and nearly every partial repeats one of a buffer's, stalled for the rest of the run.
    public var partialWindow: Int?
    /// The partials in the buffer and those postponed since it was last applied (every
    /// postponed partial is offered again after each aggregate, so both start again then).
    private var bufferedPartials = 0
    private var waitingPartials = 0

    /// - Parameter updatesPerClient: at most this many updates of one client in one
    ///   aggregate, across every worker (`FleetClientLimit`; nil: no limit).
    public init(
        state: CoordinatorState, strategy: AggregationStrategy, privacy: DifferentialPrivacy? = nil, updatesPerClient: Int? = nil
    ) {
        self.state = state
        self.strategy = strategy
        self.privacy = privacy
        clientLimit = updatesPerClient.map(FleetClientLimit.init(perAggregate:))
            ?? (privacy != nil ? FleetClientLimit(perAggregate: .max) : nil)
        if privacy != nil, self.state.privacy == nil { self.state.privacy = RDPAccountant() }
        if let decay = privacy?.finalAverageDecay, privacy?.averagesFinalVersion == true {
            if self.state.average?.decay != decay {
                // A new run, or a restart with another decay: the average starts at the current version.
                self.state.average = IterateAverage(decay: decay)
                self.state.average?.include(self.state.model.parameters)
            }
        } else {
            // A restart told not to average drops the checkpoint's average: it is never released.
            self.state.average = nil
        }
        self.state.model.privacyEpsilon = privacyEpsilon
    }

    /// ε spent so far at the configured δ (nil without differential privacy).
    public var privacyEpsilon: Double? {
        guard let privacy, let accountant = state.privacy else { return nil }
        return accountant.epsilon(delta: privacy.delta).epsilon
    }

    /// A table federation's standardisation, frozen from the clients' statistics
    /// (`StatisticsQuorum`): every version from now on carries it, and the checkpoint keeps it.
    public mutating func adopt(_ standardization: Standardization) {
        state.model.standardization = standardization
    }

    /// Updates the strategy buffers, not yet applied.
    public var bufferedUpdates: Int { strategy.pendingCount }

    /// Decodes a partial's bytes; pure, so that a malformed partial is an input like any other.
    public static func decode(_ body: [UInt8], spec: ModelSpec) -> Input {
        do {
            let envelope = try Envelope(bytes: body, expecting: PipelineMessage.expectation(spec))
            guard envelope.header.kind == .partialAggregate, let summary = envelope.partial else {
                return .undecodable(detail: "partial: expected a partial aggregate, got \(envelope.header.kind)")
            }
            let partial = try PartialAggregate(
                weightedSum: envelope.decode(), weightTotal: summary.weightTotal, massTotal: summary.massTotal,
                entries: summary.entries.map(PartialAggregate.Entry.init))
            return .partial(partial, settled: summary.settled, range: summary.streamRange)
        } catch {
            return .undecodable(detail: "partial: \(error)")
        }
    }

    /// Decides what becomes of one partial (see the type's rules). A partial read off a
    /// stream is first judged by the stream ledger (``StreamLedger``): only one that
    /// continues its shard under the shard's claim goes on to the rules above.
    /// - Parameters:
    ///   - returnTo: where the partial's new updates can be asked back should it mix them
    ///     with counted ones (its `x-fedq-return-to`; nil: they are booked as duplicates).
    ///   - unixTime: now in unix seconds, for a return's deadline.
    public mutating func receive(
        _ input: Input, returnTo: PartialReturn? = nil, now: ContinuousClock.Instant = .now,
        unixTime: UInt64 = UInt64(Date().timeIntervalSince1970)
    ) -> Action {
        guard case .partial(let partial, let settled, let range) = input else {
            if case .undecodable(let detail) = input { return .deadLetter(reason: .malformed, detail: detail, records: []) }
            return .acknowledge(records: [])
        }
        guard let range else {
            return receive(partial, settled: settled, returnTo: returnTo, now: now, unixTime: unixTime)
        }
        let (shard, claim) = (Int(range.shard), range.claim)
        switch state.streams.judge(shard: shard, claim: claim, first: range.first, last: range.last) {
        case .accept:
            // Accepted again when a postponed partial is retaken (its range is held).
            let action = receive(partial, settled: settled, now: now)
            switch action {
            case .acknowledge, .deadLetter:
                state.streams.settle(shard: shard, claim: claim, first: range.first, last: range.last)
            case .hold, .apply:
                bufferedRanges[shard, default: []].append(StreamLedger.Held(claim: claim, first: range.first, last: range.last))
            case .postpone, .rewind, .returnUpdates:
                break
            }
            return action
        case .copy:
            // Taken already: nothing to book.
            PipelineMetrics.streamPartialsDropped("copy").increment()
            return .acknowledge(records: [])
        case .superseded:
            // Read again by the shard's new owner: nothing to book.
            PipelineMetrics.streamPartialsDropped("superseded").increment()
            return .acknowledge(records: [])
        case .gap(let expected):
            PipelineMetrics.streamPartialsDropped("gap").increment()
            return .rewind(
                StreamClaimMessage.Answer(shard: shard, claim: claim, from: .offset(expected)),
                detail: "stream shard \(shard): partial starts at \(range.first), expected \(expected)")
        }
    }

    /// The rules for a partial that the stream ledger (if any) let through.
    private mutating func receive(
        _ partial: PartialAggregate, settled: [PartialAggregateSummary.Settled], returnTo: PartialReturn? = nil,
        now: ContinuousClock.Instant, unixTime: UInt64 = 0
    ) -> Action {
        var records: [SettlementRecord] = []
        // Checked entry by entry: the same poison message twice in one list counts once.
        for entry in settled {
            guard let known = state.settledIDs.checksum(of: entry.updateID) else {
                records.append(settleUnapplied(entry.updateID, reason: entry.reason, base: Self.expiringBase(entry), checksum: entry.checksum))
                continue
            }
            // Its id is counted: the same message refused again books nothing, another
            // message under the id (a replay a worker refused) a duplicate line of its own.
            guard known != 0, entry.checksum != 0, known != entry.checksum else { continue }
            let key = Self.foreignKey(entry.updateID, checksum: entry.checksum)
            if !state.settledIDs.contains(key) { records.append(settleUnapplied(key, reason: .duplicate, base: nil)) }
        }
        if partial.isEmpty { return .acknowledge(records: records) }
        let standings = partial.entries.map(standing)
        let fresh = zip(partial.entries, standings).filter { $0.1 == .fresh }.map(\.0)
        // Another message under a counted id is a second publish (a replay): booked as a
        // duplicate under a key of its own, once however often its partial comes back.
        for (entry, standing) in zip(partial.entries, standings) where standing == .foreign {
            let key = Self.foreignKey(entry)
            if !state.settledIDs.contains(key) { records.append(settleUnapplied(key, reason: .duplicate, base: nil)) }
        }
        if fresh.isEmpty {
            // A redelivery of what is already counted (or buffered from the first copy),
            // or only replays, booked above.
            return .acknowledge(records: records)
        }
        if fresh.contains(where: { state.settledIDs.isBeyondHorizon(base: $0.baseVersion) }) {
            // Older than the ids the coordinator still remembers: it cannot tell a replay
            // from a first copy, and an update this stale is dropped anyway (a worker that
            // let it through has not heard of the newest versions).
            records += fresh.map { settleUnapplied($0.id, reason: .stale, base: $0.baseVersion) }
            return .deadLetter(
                reason: .stale, detail: "base version older than the staleness horizon \(state.settledIDs.horizon)", records: records)
        }
        if fresh.count < partial.count {
            let counted = "\(partial.count - fresh.count) of \(partial.count) updates already counted"
            if let returnTo, askBack(fresh, from: returnTo, unixTime: unixTime) {
                return .returnUpdates(
                    detail: "\(counted); the other \(fresh.count) asked back from worker \(String(returnTo.worker, radix: 16)), partial \(returnTo.partial)",
                    records: records)
            }
            records += fresh.map { settleUnapplied($0.id, reason: .duplicate, base: $0.baseVersion) }
            return .deadLetter(
                reason: .duplicate, detail: counted, records: records)
        }
        if privacy != nil, let clientLimit, !state.budgetClosed,
            partial.entries.contains(where: { entry in entry.clientID.map { clientLimit.count(of: $0) > 0 } ?? false }) {
            // The aggregate being filled holds one of this partial's clients already: the
            // partial waits for the next one, so no client has two updates in one aggregate
            // and the noise covers each at σ (a partial of one client's two updates, which
            // workers under DP do not make, would still be charged at σ/2 in `applyBuffer`).
            // The first partial of an empty buffer is never postponed, and the coordinator
            // offers the postponed ones, oldest first, right after each aggregate. (Counting
            // them towards the aggregate they wait out, and applying it short once they
            // filled it, was tried: MNIST's 1,000 clients at K = 100 then made 425-465
            // aggregates of about 69 updates instead of 171-177 of 100, and a median 89.1%
            // instead of 92.4%, at the same ε.)
            postponedPartials += 1
            waitingPartials += 1
            let windowFull = partialWindow.map { bufferedPartials + waitingPartials >= $0 } ?? false
            return .postpone(records: records, applyNow: windowFull)
        }
        if let excess = clientLimit?.excess(partial.entries), !excess.isEmpty {
            if let refusal = limit(partial, excess: excess, records: &records) { return refusal }
        }
        switch strategy.receive(partial, currentVersion: state.model.version) {
        case .buffered:
            bufferedPartials += 1
            if pendingIDs.isEmpty { pendingSince = now }
            for entry in partial.entries { pendingIDs[entry.id] = entry.checksum }
            clientLimit?.take(partial.entries)
            return .hold(records: records)
        case .ready:
            bufferedPartials += 1
            for entry in partial.entries { pendingIDs[entry.id] = entry.checksum }
            clientLimit?.take(partial.entries)
            return .apply(records: records)
        case .rejected(let reason):
            records += partial.entries.map { settleUnapplied($0.id, reason: reason, base: $0.baseVersion) }
            return .deadLetter(reason: reason, detail: "refused by the strategy", records: records)
        }
    }

    /// What becomes of a partial of new updates some of which (`excess`) would take their
    /// client beyond its share of the aggregate: nil when it is taken whole all the same.
    ///
    /// A sum cannot be split. A partial of nothing but excess is refused, booked
    /// `rate-limited` under its ids (as a worker's refusal is). One that also holds other
    /// clients' updates is taken whole and its excess only counted
    /// (`fedq_client_limit_overruns_total`): parking it and asking its other updates back
    /// would lose them whenever the worker no longer holds them, which a flood makes the
    /// rule (a worker keeps its last 32 MiB; measured in docs/robustness.md), so a hostile
    /// client could trade its excess for honest updates. Signed workers send a client's
    /// second and later updates from one base version alone (`WorkerStateMachine`), which is
    /// where a flood's excess travels, so what rides mixed is one per worker and base.
    private mutating func limit(
        _ partial: PartialAggregate, excess: [PartialAggregate.Entry], records: inout [SettlementRecord]
    ) -> Action? {
        guard excess.count == partial.count else {
            PipelineMetrics.clientLimitOverruns.increment(by: excess.count)
            return nil
        }
        records += excess.map { settleUnapplied($0.id, reason: .rateLimited, base: $0.baseVersion, checksum: $0.checksum) }
        return .deadLetter(
            reason: .rateLimited,
            detail: "\(excess.count) updates beyond their client's \(clientLimit?.perAggregate ?? 0) in the aggregate", records: records)
    }

    /// How long a worker has to send a refused partial's new updates back before they are
    /// booked as duplicates: far longer than a notice takes to reach it and a partial to come
    /// back, far shorter than a worker keeps them (`ReturnShelf`) only under a light load.
    public static let returnWait: UInt64 = 30

    /// The addresses whose updates the coordinator waits for, for its notices.
    public var returnRequests: [PartialReturn] { state.pendingReturns.map(\.address) }

    /// Records a request for `fresh` (once per address: a redelivered partial asks again
    /// nothing new); false when too many requests are outstanding, and the updates are then
    /// booked as duplicates, as before returns.
    private mutating func askBack(_ fresh: [PartialAggregate.Entry], from address: PartialReturn, unixTime: UInt64) -> Bool {
        if state.pendingReturns.contains(where: { $0.address == address }) { return true }
        guard state.pendingReturns.count < PartialReturn.maxRequests else { return false }
        state.pendingReturns.append(PendingReturn(address: address, entries: fresh, deadline: unixTime + Self.returnWait))
        return true
    }

    /// Forgets the requests whose updates are all counted now (come back, or counted from
    /// another copy), and books as duplicates the updates of an expired request that never
    /// came back: the outcome before returns (lost to training, but booked once).
    /// - Returns: the records to persist, and whether the requests changed (persist even
    ///   without records, and tell the workers).
    public mutating func settleReturns(unixTime: UInt64 = UInt64(Date().timeIntervalSince1970)) -> (
        records: [SettlementRecord], changed: Bool
    ) {
        var records: [SettlementRecord] = []
        var waiting: [PendingReturn] = []
        for pending in state.pendingReturns {
            let missing = pending.entries.filter { standing($0) == .fresh }
            if missing.isEmpty { continue }
            if unixTime < pending.deadline {
                waiting.append(pending)
                continue
            }
            records += missing.map { settleUnapplied($0.id, reason: .duplicate, base: $0.baseVersion) }
        }
        let changed = waiting.count != state.pendingReturns.count
        state.pendingReturns = waiting
        return (records, changed)
    }

    /// Records `claim` as the owner of stream shard `shard` and says where its reader
    /// starts (`StreamLedger.claim(_:shard:)`): from then on only its partials extend the shard.
    public mutating func claim(_ claim: UInt64, shard: Int, worker: UInt64? = nil) -> StreamOffset {
        state.streams.claim(claim, shard: shard, worker: worker)
    }

    /// Whether a buffer has waited `wait` or longer without filling: apply it short
    /// then, or clients that stop or slow down strand the last updates of a run.
    public func bufferOverdue(after wait: Duration, now: ContinuousClock.Instant = .now) -> Bool {
        guard let pendingSince else { return false }
        return now - pendingSince >= wait
    }

    /// Applies what the strategy buffers (full, overdue or drained) through the server
    /// optimiser and bumps the version; nil when nothing was buffered.
    /// - Parameter booking: records decided with the partial that filled the buffer.
    /// - Throws: `ServerOptimizerError` when the aggregate does not fit the model.
    public mutating func applyBuffer(booking records: [SettlementRecord] = []) throws -> Applied? {
        let buffered = strategy.pendingCount
        guard buffered > 0 else { return nil }
        var ledger = privacy.map { PrivacyLedger(settings: $0, accountant: state.privacy ?? RDPAccountant()) }
        // The most updates one client has in this aggregate: the accountant charges the
        // aggregate at σ/m for it (`PrivacyLedger.noiseMultiplier(largestClientShare:)`).
        let clientShare = clientLimit?.largestCount ?? 0
        if let ledger, state.budgetClosed || !ledger.permits(updates: buffered, largestClientShare: clientShare) {
            // Releasing this aggregate would spend more than the target ε: it is refused
            // whole, and its updates are booked as such (never applied, never lost).
            let refused = strategy.discardPending()
            bufferEmptied()
            let records = records + refused.map { settleUnapplied($0.id, reason: .privacyBudget, base: $0.baseVersion) }
            let releasesAverage = closeBudget()
            return Applied(model: state.model, records: records, staleness: [], refusal: .privacyBudget, releasesAverage: releasesAverage)
        }
        // What to go back to should the aggregate overflow (issue 16): a copy of the
        // parameters (one memory pass per version) and of the optimizer's moments.
        let previous = (parameters: state.model.parameters, optimizer: state.optimizer)
        // The parameters move out and back: two inout accesses to `state` at once would
        // break exclusivity, and moving (unlike copying) keeps the buffer unshared.
        var parameters = state.model.parameters
        state.model.parameters = []
        let outcome = Result {
            try strategy.apply(to: &parameters, optimizer: &state.optimizer, perturbing: ledger.map { ledger in { ledger.perturb(&$0) } })
        }
        state.model.parameters = parameters
        guard let applied = try outcome.get() else { return nil }
        guard state.model.parameters.isAllFinite else {
            // Finite updates can still sum past Float's range (four of 3e38 did). A model
            // holding NaN or ∞ would be published, checkpointed and resumed from forever:
            // the aggregate is refused whole, its updates booked `non-finite`, and the
            // previous version stays the current one.
            state.model.parameters = previous.parameters
            state.optimizer = previous.optimizer
            bufferEmptied()
            return Applied(
                model: state.model, records: records + applied.entries.map { settleUnapplied($0.id, reason: .nonFinite, base: $0.baseVersion) },
                staleness: [], refusal: .nonFinite)
        }
        if ledger != nil {
            if clientShare > 1 { repeatedClientAggregates += 1 }
            largestClientShare = max(largestClientShare, clientShare)
            ledger?.record(updates: applied.count, largestClientShare: clientShare)
            state.privacy = ledger?.accountant
            state.model.privacyEpsilon = privacyEpsilon
        }
        state.accounting.recordApplied(applied, at: state.model.version)
        var records = records
        var stalenesses: [Int] = []
        stalenesses.reserveCapacity(applied.count)
        for entry in applied.entries {
            stalenesses.append(staleness(current: state.model.version, base: entry.baseVersion))
            state.settledIDs.insert(entry.id, base: entry.baseVersion, current: state.model.version, checksum: entry.checksum)
            records.append(SettlementRecord(id: entry.id, disposition: .applied, version: state.model.version + 1))
        }
        bufferEmptied()
        state.model.version += 1
        state.settledIDs.advance(to: state.model.version)
        state.model.updatesApplied += applied.count
        state.average?.include(state.model.parameters)
        return Applied(model: state.model, records: records, staleness: stalenesses)
    }

    /// The strategy's buffer was applied or refused: nothing is pending, the held stream
    /// ranges of its partials are taken (no other held range), and every client's share of
    /// the next aggregate starts again.
    private mutating func bufferEmptied() {
        pendingIDs = [:]
        pendingSince = nil
        state.streams.settle(bufferedRanges)
        bufferedRanges = [:]
        (bufferedPartials, waitingPartials) = (0, 0)
        clientLimit?.reset()
    }

    /// Ends a private run that stopped before its budget was spent (a simulation's time or
    /// update limit, or its interruption) as the budget's end would have: the versions'
    /// average becomes the last version and the budget closes. Returns whether a version was
    /// made: not without an average or with an aggregate still buffered (drain first), nor
    /// twice. Only for a run that is over: the closed budget is checkpointed, so a
    /// coordinator resumed from it applies nothing more.
    public mutating func releaseFinalAverage() -> Bool {
        guard strategy.pendingCount == 0 else { return false }
        return closeBudget()
    }

    /// The first time the budget refuses an aggregate of a run that averages its versions:
    /// the average becomes the next (and last) version, and the budget closes, so that no
    /// smaller aggregate that would still fit is applied on top of it. Returns whether a
    /// version was made. Without an average the budget stays as it was: a later, smaller
    /// aggregate that fits is still applied.
    private mutating func closeBudget() -> Bool {
        guard !state.budgetClosed, let average = state.average, average.count > 1 else { return false }
        state.budgetClosed = true
        state.model.parameters = average.parameters
        state.model.version += 1
        state.settledIDs.advance(to: state.model.version)
        return true
    }

    /// What an entry of an incoming partial is to the books.
    enum Standing: Equatable {
        /// Not counted yet.
        case fresh
        /// An update already counted or buffered, the same message again (a redelivery, or
        /// a client's retry after a lost confirm): settled with the first.
        case copy
        /// Another message under a counted id (its checksum differs): a replay.
        case foreign
    }

    private func standing(_ entry: PartialAggregate.Entry) -> Standing {
        guard let known = pendingIDs[entry.id] ?? state.settledIDs.checksum(of: entry.id) else { return .fresh }
        return known != 0 && entry.checksum != 0 && known != entry.checksum ? .foreign : .copy
    }

    /// The key a replay is booked under: its id with its checksum folded in, so the
    /// honest update keeps its own line and the replay gets one of its own.
    static func foreignKey(_ entry: PartialAggregate.Entry) -> UpdateID { foreignKey(entry.id, checksum: entry.checksum) }

    static func foreignKey(_ id: UpdateID, checksum: UInt32) -> UpdateID {
        UpdateID(high: id.high ^ 0xD0B1_E1D0_0000_0000, low: id.low ^ UInt64(checksum))
    }

    /// The version a worker's settled entry expires with: refusals judged as an admitted
    /// client's update (stale, over a bound, rate-limited) are booked under the update's
    /// own id, which a replay could reuse, so they are kept as long as it could count; the
    /// rest are booked under their bytes' digest (`WorkerStateMachine`) and only a
    /// redelivered partial repeats them.
    static func expiringBase(_ entry: PartialAggregateSummary.Settled) -> ModelVersion? {
        switch entry.reason {
        case .stale, .outOfBounds, .rateLimited: entry.baseVersion
        default: nil
        }
    }

    /// Books an update that will never be applied: dropped stale, or rejected for
    /// `reason`; returns its line for `updates.csv`.
    /// - Parameter base: the version its id expires with (nil: booked under a digest).
    /// - Parameter checksum: its message's checksum when booked under its update id (0: not
    ///   known), so that another message under that id is told from a redelivered copy.
    private mutating func settleUnapplied(
        _ id: UpdateID, reason: RejectionReason, base: ModelVersion?, checksum: UInt32 = 0
    ) -> SettlementRecord {
        state.settledIDs.insert(id, base: base, current: state.model.version, checksum: checksum)
        guard reason.isRejection else {
            state.accounting.recordDroppedStale()
            return SettlementRecord(id: id, disposition: .stale, version: state.model.version)
        }
        state.accounting.recordRejected(reason)
        return SettlementRecord(id: id, disposition: .rejected, reason: reason, version: state.model.version)
    }
}
