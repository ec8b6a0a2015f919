import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
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
/// is skipped; one that mixes settled and new updates (two workers raced over
/// one redelivered update) cannot be split, so it is dead-lettered and its new
/// updates are counted as rejected duplicates, never twice.
public actor Coordinator {
    private let transport: any Transport
    private let spec: ModelSpec
    private let store: CoordinatorStore?
    private var strategy: AggregationStrategy
    private var state: CoordinatorState
    /// Ids inside partials the strategy buffers (not settled until applied).
    private var pendingIDs: Set<UpdateID> = []
    /// Deliveries of the buffered partials: acknowledged once they are applied.
    private var held: [Delivery] = []
    /// When the oldest buffered partial arrived.
    private var pendingSince: ContinuousClock.Instant?
    /// Apply a buffer that has not filled within this long (nil: wait for K). Clients
    /// that stop or slow down would otherwise strand the last updates of a run.
    private let maxBufferWait: Duration?
    /// Called with each new version once it is published (progress, tests).
    private let onVersion: @Sendable (GlobalModel) -> Void

    public var model: GlobalModel { state.model }
    public var accounting: AggregationAccounting { state.accounting }

    /// A coordinator with `store` resumes from its last checkpoint, if there is one.
    /// - Throws: `CheckpointError` for an unreadable checkpoint or another run's.
    public init(
        transport: any Transport, spec: ModelSpec, initialParameters: [Float], strategy: AggregationStrategy,
        optimizer: ServerOptimizer, store: CoordinatorStore? = nil, settledWindow: Int = 1 << 16,
        maxBufferWait: Duration? = nil, onVersion: @escaping @Sendable (GlobalModel) -> Void = { _ in }
    ) throws(CheckpointError) {
        self.transport = transport
        self.spec = spec
        self.strategy = strategy
        self.store = store
        self.onVersion = onVersion
        self.maxBufferWait = maxBufferWait
        let name = strategy.kind.description
        state =
            try store?.load(spec: spec, strategy: name)
            ?? CoordinatorState(
                model: GlobalModel(version: 0, parameters: initialParameters, updatesApplied: 0), optimizer: optimizer,
                settledIDs: RecentIDs(capacity: settledWindow), strategy: name)
    }

    /// Publishes the current version, so that subscribers have a model to start from.
    public func announce() async throws {
        let (body, properties) = try PipelineMessage.encodeModel(state.model, spec: spec)
        try await transport.publish(body, exchange: PipelineTopology.modelsExchange, routingKey: "", properties: properties, mandatory: false)
        try await transport.publish([], exchange: PipelineTopology.versionsExchange, routingKey: "", properties: properties, mandatory: false)
        onVersion(state.model)
    }

    /// Consumes partials, and answers late joiners' model requests, until cancelled.
    public func run(prefetch: Int = 64) async throws {
        let partials = try await transport.consume(queue: PipelineTopology.partialsQueue, prefetch: prefetch)
        let requests = try await transport.consume(queue: PipelineTopology.modelRequestsQueue, prefetch: 16)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { for try await delivery in partials { try await self.handle(delivery) } }
            group.addTask { for try await request in requests { try await self.answer(request) } }
            group.addTask { try await PipelineMetrics.watch(PipelineTopology.partialsQueue, on: self.transport) }
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
        if strategy.pendingCount > 0 { try await applyPending() }
    }

    private func applyIfWaitedTooLong(_ wait: Duration) async throws {
        guard let pendingSince, ContinuousClock.now - pendingSince >= wait else { return }
        try await applyPending()
    }

    /// Sends the current model straight to the requester's queue (its `reply_to`).
    private func answer(_ request: Delivery) async throws {
        if let queue = request.properties.replyTo, !queue.isEmpty {
            let (body, properties) = try PipelineMessage.encodeModel(state.model, spec: spec)
            // Not mandatory: a requester gone meanwhile needs no answer.
            try await transport.publish(body, exchange: "", routingKey: queue, properties: properties, mandatory: false)
        }
        try await request.ack()
    }

    func handle(_ delivery: Delivery) async throws {
        let partial: PartialAggregate
        let settled: [PartialAggregateSummary.Settled]
        do {
            let envelope = try Envelope(bytes: delivery.body, expecting: PipelineMessage.expectation(spec))
            guard envelope.header.kind == .partialAggregate, let summary = envelope.partial else {
                throw WireError.inconsistentInput(field: .kind, reason: "expected a partial aggregate, got \(envelope.header.kind)")
            }
            settled = summary.settled
            partial = try PartialAggregate(
                weightedSum: envelope.decode(), weightTotal: summary.weightTotal, massTotal: summary.massTotal,
                entries: summary.entries.map { .init(id: $0.updateID, baseVersion: $0.baseVersion) })
        } catch {
            // A partial that fails to decode holds updates we cannot name: park it for an operator.
            try await deadLetter(delivery, reason: .malformed, detail: "partial: \(error)")
            try await delivery.ack()
            return
        }
        PipelineMetrics.partialsReceived.increment()
        var records: [SettlementRecord] = []
        // Checked entry by entry: the same poison message twice in one list counts once.
        for entry in settled where !state.settledIDs.contains(entry.updateID) {
            records.append(settleUnapplied(entry.updateID, reason: entry.reason))
        }
        if partial.isEmpty {
            try await commit(records, acknowledging: [delivery])
            return
        }
        let fresh = partial.updateIDs.filter { !state.settledIDs.contains($0) && !pendingIDs.contains($0) }
        if fresh.isEmpty {
            // A redelivery of what is already counted (or buffered from the first copy).
            try await commit(records, acknowledging: [delivery])
            return
        }
        if fresh.count < partial.count {
            try await deadLetter(delivery, reason: .duplicate, detail: "\(partial.count - fresh.count) of \(partial.count) updates already counted")
            try await reject(fresh, reason: .duplicate, records: records, delivery: delivery)
            return
        }
        switch strategy.receive(partial, currentVersion: state.model.version) {
        case .buffered:
            if held.isEmpty { pendingSince = .now }
            held.append(delivery)
            pendingIDs.formUnion(partial.updateIDs)
            if !records.isEmpty { try await commit(records, acknowledging: []) }
        case .ready:
            held.append(delivery)
            pendingIDs.formUnion(partial.updateIDs)
            try await applyPending(records)
        case .rejected(let reason):
            try await deadLetter(delivery, reason: reason, detail: "refused by the strategy")
            try await reject(partial.updateIDs, reason: reason, records: records, delivery: delivery)
        }
    }

    private func reject(_ ids: [UpdateID], reason: RejectionReason, records: [SettlementRecord], delivery: Delivery) async throws {
        try await commit(records + ids.map { settleUnapplied($0, reason: reason) }, acknowledging: [delivery])
    }

    /// Books an update that will never be applied: dropped stale, or rejected for
    /// `reason`; returns its line for `updates.csv`.
    private func settleUnapplied(_ id: UpdateID, reason: RejectionReason) -> SettlementRecord {
        state.settledIDs.insert(id)
        guard reason.isRejection else {
            state.accounting.recordDroppedStale()
            PipelineMetrics.updatesDroppedStale.increment()
            return SettlementRecord(id: id, disposition: .stale, version: state.model.version)
        }
        state.accounting.recordRejected(reason)
        PipelineMetrics.rejected(reason).increment()
        return SettlementRecord(id: id, disposition: .rejected, reason: reason, version: state.model.version)
    }

    private func applyPending(_ records: [SettlementRecord] = []) async throws {
        // The parameters move out and back: two inout accesses to `state` at once would
        // break exclusivity, and moving (unlike copying) keeps the buffer unshared.
        var parameters = state.model.parameters
        state.model.parameters = []
        let began = ContinuousClock.now
        let outcome = Result { try strategy.apply(to: &parameters, optimizer: &state.optimizer) }
        PipelineMetrics.aggregationDuration.recordSeconds((ContinuousClock.now - began).seconds)
        state.model.parameters = parameters
        guard let applied = try outcome.get() else { return }
        state.accounting.recordApplied(applied, at: state.model.version)
        var records = records
        PipelineMetrics.updatesApplied.increment(by: applied.count)
        for entry in applied.entries {
            PipelineMetrics.staleness.record(staleness(current: state.model.version, base: entry.baseVersion))
            state.settledIDs.insert(entry.id)
            records.append(SettlementRecord(id: entry.id, disposition: .applied, version: state.model.version + 1))
        }
        pendingIDs = []
        pendingSince = nil
        state.model.version += 1
        state.model.updatesApplied += applied.count
        let acknowledged = held
        held = []
        try store?.commit(state, spec: spec, records: records)
        PipelineMetrics.modelVersion.record(state.model.version)
        try await announce()
        for delivery in acknowledged { try await delivery.ack() }
    }

    /// Persists the settled records with the state, then acknowledges what they settled.
    private func commit(_ records: [SettlementRecord], acknowledging deliveries: [Delivery]) async throws {
        if !records.isEmpty { try store?.commit(state, spec: spec, records: records) }
        for delivery in deliveries { try await delivery.ack() }
    }

    /// Parks a partial in `fedq.dead` with the reason as a header (confirmed).
    private func deadLetter(_ delivery: Delivery, reason: RejectionReason, detail: String) async throws {
        var properties = delivery.properties
        properties.headers[MessageProperties.HeaderName.rejectReason] = .string(reason.name)
        properties.headers[MessageProperties.HeaderName.rejectDetail] = .string(detail)
        try await transport.publish(
            delivery.body, exchange: PipelineTopology.deadExchange, routingKey: "", properties: properties, mandatory: false)
    }
}
