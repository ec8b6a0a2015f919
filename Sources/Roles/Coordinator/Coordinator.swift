import Aggregation
import FedCore
import Foundation
import Learning
import Logging
import Messaging
import Privacy
import Trust
import Wire

/// The one owner of the global model: merges the workers' partials, lets
/// the strategy decide when an aggregate is ready, applies it through the
/// server optimiser, bumps the version and publishes it on the fanout.
///
/// Effectively once: every partial is acknowledged only after the state that
/// includes it was committed (to its `CoordinatorStore`, when it has one) and,
/// for a new version, published. A crash before that makes the broker
/// redeliver the partial, and the window of settled ids then recognises what
/// the restored state already counts: a partial whose updates were all settled
/// is skipped; one that mixes settled and new updates (a replay that reached another
/// worker) cannot be split, so it is dead-lettered and its new updates are asked back
/// from their worker (`PartialReturn`), or counted as rejected duplicates if they do not
/// come back in time: never twice. Those decisions are
/// `CoordinatorStateMachine`'s; this actor only does the I/O they call for.
public actor Coordinator {
    let transport: any Transport
    let spec: ModelSpec
    private let store: CoordinatorStore?
    /// Every decision: what to book, hold, dead-letter and apply.
    private var machine: CoordinatorStateMachine
    /// Deliveries of the buffered partials: acknowledged once they are applied.
    private var held: [Delivery] = []
    /// Deliveries of private partials held back to the next aggregate (`Action.postpone`),
    /// oldest first: unacknowledged, so a crash gives them back to the broker.
    private var postponed: [Delivery] = []
    /// The stream ledger as last committed (`commit`).
    private var persistedStreams: StreamLedger
    /// Apply a buffer that has not filled within this long (nil: wait for K). Clients
    /// that stop or slow down would otherwise strand the last updates of a run.
    private let maxBufferWait: Duration?
    /// Called with each new version once it is published (progress, tests).
    private let onVersion: @Sendable (GlobalModel) -> Void
    let logger: Logger
    /// Signs every model version and version notice (nil: they go out unsigned).
    private let signingKey: SigningKey?
    /// Model versions and parked partials longer than this travel as chunks (`--chunk-size`).
    let chunkSize: Int
    /// Chunked partials being put back together (`Coordinator+Chunks.swift`).
    var chunks: DeliveryReassembler
    /// A table federation's clients' statistics until the quorum freezes the
    /// standardisation (`Coordinator+Statistics.swift`); nil for MNIST.
    var statistics: StatisticsQuorum?
    /// Decodes and (with the issuer's key) authenticates statistics messages.
    var statisticsVerifier: StatisticsVerifier
    /// Which stream shard to ask a worker to release when another wants one.
    var balancer = ShardBalancer()
    /// The list the notices carry (nil: none, or no key to sign it with).
    private let revocations: Revocations?
    /// `revocations` as last signed: signed again only when the list changes.
    private var signedRevocations: PipelineMessage.SignedRevocations?
    /// The current version's notice, without a list, to send again (`renoticeIfDue`).
    private var lastNotice: MessageProperties?
    private var lastNoticeSent = ContinuousClock.now
    /// How often a signing coordinator sends its current notice (with its list) again when
    /// no version goes out: a worker started since the last version waits for a notice
    /// before it consumes (`WorkerSettings.firstNoticeWait`), and learns the list.
    static let noticeRepeat = Duration.seconds(2)

    public var model: GlobalModel { machine.state.model }
    public var accounting: AggregationAccounting { machine.state.accounting }
    /// ε spent so far (nil without differential privacy).
    public var privacyEpsilon: Double? { machine.privacyEpsilon }
    /// Partials whose new updates are asked back from their workers, not all back yet.
    public var pendingReturns: [PendingReturn] { machine.state.pendingReturns }
    /// Updates the strategy buffers for the next version, not applied yet.
    public var bufferedUpdates: Int { machine.bufferedUpdates }
        /// How far each stream shard was taken, and by whose claim (empty on queue shards).
    public var streamLedger: StreamLedger { machine.state.streams }
    /// Aggregates the accountant has recorded.
    public var privacySteps: Int? { machine.state.privacy?.steps }
    /// Private aggregates that held more than one update of a client, and the most one
    /// client had in an aggregate (`CoordinatorStateMachine.repeatedClientAggregates`).
    public var repeatedClients: (aggregates: Int, largest: Int) {
        (machine.repeatedClientAggregates, machine.largestClientShare)
    }
    /// Private partials held back to a later aggregate so that it held no client twice
    /// (`CoordinatorStateMachine.postponedPartials`).
    public var postponedPartials: Int { machine.postponedPartials }
    /// The version released as the average of the versions when the privacy budget ran
    /// out (the last one: nothing is applied after it); nil before that or without an average.
    public var finalAverageVersion: UInt64? { machine.state.budgetClosed ? machine.state.model.version : nil }

    /// A coordinator with `store` resumes from its last checkpoint, if there is one.
    /// - Parameters:
    ///   - tableScaling: a table federation: where the standardisation every version carries
    ///     comes from, the clients' statistics or public bounds (nil: MNIST, none). A
    ///     checkpoint that already holds one keeps it; one that holds other public bounds
    ///     than these is refused (`CheckpointError.otherScaling`).
    ///   - statisticsIssuer: take only statistics signed under a credential this key issued
    ///     to the client id they name (nil: unauthenticated, as updates without `--issuer-key`).
    ///   - revocations: the federation's revocation list (`--revoked`). With `signingKey`
    ///     it rides signed on every version notice, so workers refuse updates under it
    ///     without a file of their own; with `statisticsIssuer`, statistics under a
    ///     credential on it are refused, as workers refuse such updates.
    ///   - updatesPerClient: at most this many updates of one client in one aggregate,
    ///     whichever workers summed them (`FleetClientLimit`; nil: no limit). The workers'
    ///     `--max-client-rate`, held across all of them.
    /// - Throws: `CheckpointError` for an unreadable checkpoint or another run's.
    public init(
        transport: any Transport, spec: ModelSpec, initialParameters: [Float], strategy: AggregationStrategy,
        optimizer: ServerOptimizer, store: CoordinatorStore? = nil, settledWindow: Int = 1 << 16,
        stalenessHorizon: Int = StalenessPolicy.defaultHorizon,
        maxBufferWait: Duration? = nil, privacy: DifferentialPrivacy? = nil, signingKey: SigningKey? = nil,
        chunkSize: Int = Chunk.defaultChunkSize, tableScaling: TableScaling? = nil, statisticsIssuer: VerifyingKey? = nil,
        revocations: Revocations? = nil, updatesPerClient: Int? = UpdateDefences.default.updatesPerClientVersion,
        logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() }),
        onVersion: @escaping @Sendable (GlobalModel) -> Void = { _ in }
    ) throws(CheckpointError) {
        self.logger = logger
        self.signingKey = signingKey
        self.chunkSize = chunkSize
        chunks = DeliveryReassembler(limits: Self.chunkLimits(spec: spec))
        self.transport = transport
        self.spec = spec
        self.store = store
        self.onVersion = onVersion
        self.maxBufferWait = maxBufferWait
        let name = strategy.kind.description
        let state =
            try store?.load(spec: spec, strategy: name, stalenessHorizon: stalenessHorizon)
            ?? CoordinatorState(
                model: GlobalModel(version: 0, parameters: initialParameters, updatesApplied: 0), optimizer: optimizer,
                settledIDs: SettledIndex(stalenessHorizon: stalenessHorizon, refusalWindow: settledWindow), strategy: name)
        machine = CoordinatorStateMachine(state: state, strategy: strategy, privacy: privacy, updatesPerClient: updatesPerClient)
        persistedStreams = state.streams
        statisticsVerifier = StatisticsVerifier(spec: spec, issuer: statisticsIssuer, revocations: revocations)
        self.revocations = signingKey == nil ? nil : revocations
        statistics = tableScaling?.quorum(featureCount: spec.inputSize, checkpointed: state.model.standardization)
        if case .publicBounds(let bounds) = tableScaling {
            // Versions already out meant their weights relative to the checkpoint's scaling:
            // other bounds now would change what every one of them meant.
            if let held = state.model.standardization, held != bounds { throw .otherScaling(path: store?.checkpointPath ?? "") }
            if state.model.standardization == nil {
                machine.adopt(bounds)
                try store?.commit(machine.state, spec: spec, records: [])
            }
        }
    }

    /// Records a worker's claim on a stream shard; where its reader starts.
    func recordClaim(_ claim: StreamClaimMessage.Announcement) -> StreamOffset {
        balancer.claimed(shard: claim.shard)
        return machine.claim(claim.claim, shard: claim.shard, worker: claim.worker)
    }

    /// Checkpoints the state if the stream ledger moved since the last commit.
    func commitLedger() throws { try commit([]) }

    /// Answers a claim in the claiming worker's own claim queue (through the default
    /// exchange, as an RPC reply): only that worker reads it, and nothing newer can push
    /// it out, as a version notice on the newest-only fanout could be.
    func publish(answer: StreamClaimMessage.Answer) async throws {
        var properties = MessageProperties()
        answer.attach(to: &properties, signedBy: signingKey)
        try await transport.publish(
            [], exchange: "", routingKey: ShardClaim.queueName(shard: answer.shard), properties: properties, mandatory: false)
    }

    /// Asks the holder of a stream shard's claim to let it go, in its claim queue.
    func publish(release: StreamClaimMessage.Release) async throws {
        var properties = MessageProperties()
        release.attach(to: &properties, signedBy: signingKey)
        try await transport.publish(
            [], exchange: "", routingKey: ShardClaim.queueName(shard: release.shard), properties: properties, mandatory: false)
    }

    /// Publishes the current version, so that subscribers have a model to start from.
    /// A table federation's coordinator publishes nothing until its statistics quorum froze
    /// the standardisation: a version without one could not be applied to anyone's rows.
    public func announce() async throws {
        guard !isWaitingForStatistics else { return }
        let model = machine.state.model
        let (body, properties) = try PipelineMessage.encodeModel(model, spec: spec, signedBy: signingKey)
        try await transport.publish(
            body, exchange: PipelineTopology.modelsExchange, routingKey: "", properties: properties, mandatory: false, chunkSize: chunkSize)
        lastNotice = PipelineMessage.versionNotice(properties, version: model.version, spec: spec, signedBy: signingKey)
        try await publishNotice()
        onVersion(model)
    }

    /// Sends workers the current version's notice, with the revocation list as it is now.
    private func publishNotice() async throws {
        guard var notice = lastNotice else { return }
        var body: [UInt8] = []
        if let revocations, let signingKey {
            let list = revocations.own
            if signedRevocations?.list != list {
                // Kept before it goes out: a successor signs a larger serial even if its clock is behind.
                let serial = PipelineMessage.SignedRevocations.serial(after: signedRevocations?.serial ?? store?.revocationsSerial())
                try store?.recordRevocationsSerial(serial)
                signedRevocations = PipelineMessage.SignedRevocations(list, serial: serial, signedBy: signingKey)
                PipelineMetrics.revocationListSerial.record(Double(serial))
                logger.notice("revocation list signed for the workers: \(list.clients.count) clients, \(list.keys.count) keys")
            }
            if let signed = signedRevocations {
                signed.attach(to: &notice)
                body = signed.body
            }
        }
        PartialReturn.attach(machine.returnRequests, to: &notice)
        try await transport.publish(body, exchange: PipelineTopology.versionsExchange, routingKey: "", properties: notice, mandatory: false)
        lastNoticeSent = .now
    }

    /// Sends the current notice again if the revocation list changed since the last one
    /// (at once: a revoked client must be shut out before the next version), or if
    /// `noticeRepeat` passed (for workers started since, and, while updates are asked back,
    /// for a worker whose copy of the request was pushed out of its newest-only queue).
    /// Settles the return requests first: those fulfilled are dropped, those expired booked.
    func renoticeIfDue() async throws {
        let (records, changed) = machine.settleReturns()
        if changed { try commit(records, force: true) }
        if !records.isEmpty {
            logger.warning("updates asked back from a worker did not come back in time: booked as duplicates", metadata: [
                "updates": "\(records.count)", "waited": "\(CoordinatorStateMachine.returnWait) s",
            ])
        }
        let listChanged = revocations.map { $0.own != signedRevocations?.list } ?? false
        let repeats = signingKey != nil || !machine.returnRequests.isEmpty
        if listChanged || (repeats && ContinuousClock.now - lastNoticeSent >= Self.noticeRepeat) { try await publishNotice() }
    }

    /// Consumes partials, and answers late joiners' model requests, until cancelled.
    public func run(prefetch: Int = 64) async throws {
        machine.partialWindow = prefetch
        let partials = try await transport.consume(queue: PipelineTopology.partialsQueue, prefetch: partialPrefetch(prefetch))
        let requests = try await transport.consume(queue: PipelineTopology.modelRequestsQueue, prefetch: 16)
        // Consumed for the whole run, after the freeze too: late and repeated statistics are
        // acknowledged (and counted), not left to pile up in the queue.
        let statistics = self.statistics == nil ? nil : try await transport.consume(queue: PipelineTopology.statisticsQueue, prefetch: 64)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for try await delivery in partials { try await self.take(delivery) } }
            group.addTask { for try await request in requests { try await self.answer(request) } }
            if let statistics {
                group.addTask { for try await delivery in statistics { try await self.takeStatistics(delivery) } }
            }
            group.addTask { try await PipelineMetrics.watch(PipelineTopology.partialsQueue, on: self.transport) }
            // Repeated notices: signed ones (a worker waits for one, and its list, only if it
            // can verify it) and any while updates are asked back.
            group.addTask {
                while true {
                    try await Task.sleep(for: .milliseconds(500))
                    try await self.renoticeIfDue()
                }
            }
            if let wait = maxBufferWait {
                group.addTask {
                    while true {
                        try await Task.sleep(for: min(wait / 4, .milliseconds(250)))
                        try await self.applyIfWaitedTooLong(wait)
                    }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Applies whatever the strategy still buffers (the end of a run), even short of its K.
    public func drain() async throws {
        // Each pass applies a buffer, and the partials postponed from it then fill the next:
        // at most one pass more than there are postponed partials.
        var passes = postponed.count + 1
        while machine.bufferedUpdates > 0, passes > 0 {
            try await applyBuffer()
            passes -= 1
        }
    }

    /// Ends a private run before its budget is spent (`CoordinatorStateMachine.releaseFinalAverage`):
    /// checkpoints the closed budget and publishes the versions' average as the last version.
    /// Returns whether it did (false for a run without an average, or one already ended).
    /// `fedq simulate` calls it at its end; a deployed coordinator never does, since it may
    /// be restarted and go on spending its budget.
    public func releaseFinalAverage() async throws -> Bool {
        guard machine.releaseFinalAverage() else { return false }
        try commit([], force: true)
        try await announceAverage(because: "the run ended before its privacy budget was spent")
        return true
    }

    /// Says that the versions' average became the last version (`why`: the budget's end or
    /// the run's), and publishes it.
    private func announceAverage(because why: String) async throws {
        logger.notice("\(why): the last version is the average of the versions so far; no aggregate is applied after it", metadata: [
            "version": "\(machine.state.model.version)", "decay": "\(machine.privacy?.finalAverageDecay ?? 0)",
        ])
        PipelineMetrics.modelVersion.record(machine.state.model.version)
        try await announce()
    }

    private func applyIfWaitedTooLong(_ wait: Duration) async throws {
        if machine.bufferOverdue(after: wait) { try await applyBuffer() }
    }

    /// Sends the current model straight to the requester's queue (its `reply_to`).
    ///
    /// Only to a subscriber's own queue: the coordinator may publish into any queue through
    /// the default exchange, so a request naming a shared queue (`fedq.q.updates`,
    /// `fedq.q.partials`) would have it post a model there for whoever asked. A request is
    /// any client's to write, so its `reply_to` is untrusted input.
    private func answer(_ request: Delivery) async throws {
        if isWaitingForStatistics {
            // Nothing to answer with yet: the first version goes out on the fanout, which
            // the requester's queue is bound to, as soon as the quorum is reached.
        } else if let queue = request.properties.replyTo, !PipelineTopology.isSubscriberQueue(queue) {
            PipelineMetrics.modelRequestsRefused.increment()
            logger.warning("model request refused: reply_to is not a subscriber's queue", metadata: ["reply_to": "\(queue.prefix(64))"])
        } else if let queue = request.properties.replyTo {
            let (body, properties) = try PipelineMessage.encodeModel(machine.state.model, spec: spec, signedBy: signingKey)
            // Not mandatory: a requester gone meanwhile needs no answer.
            try await transport.publish(body, exchange: "", routingKey: queue, properties: properties, mandatory: false, chunkSize: chunkSize)
        }
        try await request.ack()
    }

    /// Carries out what the state machine decides about one partial.
    /// - Parameter retaken: a postponed partial given to the next aggregate (not counted as
    ///   received again).
    func handle(_ delivery: Delivery, retaken: Bool = false) async throws {
        let input = CoordinatorStateMachine.decode(delivery.body, spec: spec)
        if case .partial = input, !retaken { PipelineMetrics.partialsReceived.increment() }
        switch machine.receive(input, returnTo: PartialReturn(delivery.properties)) {
        case .acknowledge(let records):
            try commit(records)
            try await delivery.ack()
        case .hold(let records):
            held.append(delivery)
            // Not persisted for the ledger alone: until its ack, a crash brings the partial
            // back, and the restored ledger takes it again.
            try commit(records, persistingStreams: false)
        case .postpone(let records, let applyNow):
            postponed.append(delivery)
            PipelineMetrics.partialsPostponed.increment()
            try commit(records, persistingStreams: false)
            if applyNow { try await applyBuffer() }
        case .deadLetter(let reason, let detail, let records):
            logger.warning("partial parked in \(PipelineTopology.deadQueue)", metadata: [
                "reason": "\(reason.name)", "detail": "\(detail)", "updates": "\(records.count)",
                "version": "\(machine.state.model.version)",
            ])
            try await deadLetter(delivery, reason: reason, detail: detail)
            try commit(records)
            try await delivery.ack()
        case .returnUpdates(let detail, let records):
            logger.warning("partial parked in \(PipelineTopology.deadQueue); its new updates are asked back", metadata: [
                "detail": "\(detail)", "updates": "\(records.count)", "version": "\(machine.state.model.version)",
            ])
            try await deadLetter(delivery, reason: .duplicate, detail: detail)
            // The request is persisted before the partial goes: a restart still waits for
            // its updates and books them if they never come.
            try commit(records, force: true)
            try await delivery.ack()
            PipelineMetrics.returnsRequested.increment()
            try await publishNotice()
        case .apply(let records):
            held.append(delivery)
            try await applyBuffer(booking: records)
        case .rewind(let answer, let detail):
            logger.warning("stream partial out of order, parked; its reader rewinds", metadata: [
                "detail": "\(detail)", "shard": "\(answer.shard)", "from": "\(answer.from)",
            ])
            try await deadLetter(delivery, reason: .malformed, detail: detail)
            try await publish(answer: answer)
            try await delivery.ack()
        }
    }

    /// Applies the buffer, persists the new state with its records, publishes the
    /// version, and only then acknowledges the partials it applied.
    private func applyBuffer(booking records: [SettlementRecord] = []) async throws {
        let began = ContinuousClock.now
        let repeatedBefore = machine.repeatedClientAggregates
        let applied = try machine.applyBuffer(booking: records)
        PipelineMetrics.aggregationDuration.recordSeconds((ContinuousClock.now - began).seconds)
        guard let applied else { return }
        let acknowledged = held
        held = []
        try commit(applied.records)
        if let refusal = applied.refusal {
            let reason = refusal == .nonFinite ? "its sum is not finite (NaN or overflow)" : "it would spend more than the privacy budget"
            logger.notice("aggregate refused: \(reason)", metadata: [
                "updates": "\(applied.records.count)", "epsilon": "\(machine.privacyEpsilon ?? 0)",
                "version": "\(applied.model.version)",
            ])
            if applied.releasesAverage { try await announceAverage(because: "privacy budget spent") }
            for delivery in acknowledged { try await delivery.ack() }
            try await retakePostponed()
            return
        }
        if let epsilon = machine.privacyEpsilon { PipelineMetrics.dpEpsilon.record(epsilon) }
        if repeatedBefore == 0 && machine.repeatedClientAggregates > 0 {
            // Once a run: summary.json keeps the count (dp_aggregates_with_repeated_clients).
            logger.warning(
                "a private aggregate held \(machine.largestClientShare) updates of one client: ε charged it at σ/\(machine.largestClientShare), which spends the budget faster (docs/privacy.md, \"One update per client per aggregate\")",
                metadata: ["version": "\(applied.model.version)"])
        }
        logger.debug("version applied", metadata: [
            "version": "\(applied.model.version)", "updates": "\(applied.staleness.count)",
            "updates_applied": "\(applied.model.updatesApplied)",
        ])
        for tau in applied.staleness { PipelineMetrics.staleness.record(tau) }
        PipelineMetrics.modelVersion.record(applied.model.version)
        try await announce()
        for delivery in acknowledged { try await delivery.ack() }
        try await retakePostponed()
    }

    /// Gives the partials postponed for the aggregate just applied (or refused) to the next
    /// one, oldest first. The first fills an empty buffer, so it is never postponed again
    /// unless a partial that arrived meanwhile got there first; one postponed until its
    /// updates are stale is then booked stale.
    private func retakePostponed() async throws {
        guard !postponed.isEmpty else { return }
        let waiting = postponed
        postponed = []
        for delivery in waiting { try await handle(delivery, retaken: true) }
    }

    /// Puts a table federation's frozen standardisation in the model and checkpoints it,
    /// before any version carries it: a restart must publish the very same numbers.
    func adopt(_ standardization: Standardization) throws {
        machine.adopt(standardization)
        try store?.commit(machine.state, spec: spec, records: [])
        persistedStreams = machine.state.streams
    }

    /// Persists the settled records with the state, and counts them. A stream shard's
    /// ledger that moved is persisted even without records: a partial acknowledged with
    /// no record to book (its updates all settled before) still moved its shard on, and
    /// a restart that forgot it would take the next partial for a gap.
    private func commit(_ records: [SettlementRecord], persistingStreams: Bool = true, force: Bool = false) throws {
        guard force || !records.isEmpty || (persistingStreams && machine.state.streams != persistedStreams) else { return }
        try store?.commit(machine.state, spec: spec, records: records)
        persistedStreams = machine.state.streams
        PipelineMetrics.count(records)
        for record in records where record.disposition != .applied {
            logger.debug("update settled unapplied", metadata: [
                "update": "\(record.id)", "disposition": "\(record.disposition.rawValue)",
                "reason": "\(record.reason?.name ?? "")", "version": "\(record.version)",
            ])
        }
    }

    /// Parks a partial (or a broken claim) in `fedq.dead` with the reason as a header (confirmed).
    func deadLetter(_ delivery: Delivery, reason: RejectionReason, detail: String) async throws {
        try await transport.publish(
            delivery.body, exchange: PipelineTopology.deadExchange, routingKey: "",
            properties: PipelineMessage.deadLettered(delivery.properties, reason: reason, detail: detail), mandatory: false,
            chunkSize: chunkSize)
    }
}
