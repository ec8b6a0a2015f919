import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
import Wire

/// Settings of an aggregator worker.
public struct WorkerSettings: Sendable {
    /// Flush a partial once it holds this many updates…
    public var flushUpdates: Int
    /// …or once its oldest update waited this long.
    public var flushInterval: Duration
    /// Unacknowledged updates the broker may hand this worker at once.
    public var prefetch: Int
    public var staleness: StalenessPolicy
    public var limits: DecodeLimits
    /// Refuse updates whose L2 norm exceeds this (nil: no bound): one client's
    /// exploding or malicious update must not wreck the global model.
    public var maxNorm: Float?

    public init(
        flushUpdates: Int, flushInterval: Duration = .milliseconds(20), prefetch: Int = 32,
        staleness: StalenessPolicy, limits: DecodeLimits = .default, maxNorm: Float? = nil
    ) {
        self.flushUpdates = max(1, flushUpdates)
        self.flushInterval = flushInterval
        self.prefetch = max(prefetch, self.flushUpdates)
        self.staleness = staleness
        self.limits = limits
        self.maxNorm = maxNorm
    }
}

/// A competing consumer on the updates queue: decodes each client update
/// straight into a running partial aggregate, weighs it by staleness, and
/// publishes the partial to the coordinator.
///
/// Updates are acknowledged only after the broker confirmed the partial that
/// carries them, so a worker that dies loses nothing: its unacknowledged
/// updates go back to the queue for another worker. Updates it does not add
/// (refused: too stale, undecodable, another model's, …; parked in `fedq.dead`) travel as settled entries
/// of a partial too, because only the coordinator persists the run's books.
/// A redelivered update may already be in a partial the coordinator applied,
/// so it goes alone in a partial of its own, which the coordinator can then
/// recognise whole and skip.
public actor AggregatorWorker {
    private let transport: any Transport
    private let spec: ModelSpec
    private let settings: WorkerSettings
    private var partial: PartialAggregate
    private var settled: [PartialAggregateSummary.Settled] = []
    private var held: [Delivery] = []
    private var oldest: ContinuousClock.Instant?
    /// The newest global version this worker has heard of: staleness is measured against it.
    private var knownVersion: ModelVersion = 0
    public private(set) var partialsPublished = 0
    private let flushes: AsyncStream<Outgoing>
    private let flushQueue: AsyncStream<Outgoing>.Continuation

    public init(transport: any Transport, spec: ModelSpec, settings: WorkerSettings) {
        self.transport = transport
        self.spec = spec
        self.settings = settings
        partial = PartialAggregate(dimension: spec.parameterCount)
        (flushes, flushQueue) = AsyncStream.makeStream(of: Outgoing.self)
    }

    /// Consumes updates (and listens for new model versions) until cancelled. What it
    /// holds unconfirmed then goes back to the queue with its consumer, for another worker.
    public func run() async throws {
        let updates = try await transport.consume(queue: PipelineTopology.updatesQueue, prefetch: settings.prefetch)
        let versions = try await PipelineTopology.subscribeToVersions(on: transport)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await delivery in versions {
                    if let version = PipelineMessage.announcedVersion(delivery) { await self.heard(version) }
                    try await delivery.ack()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.settings.flushInterval / 2)
                    await self.flushIfDue()
                }
            }
            group.addTask {
                for try await delivery in updates { try await self.handle(delivery) }
            }
            group.addTask { try await PipelineMetrics.watch(PipelineTopology.updatesQueue, on: self.transport) }
            group.addTask { for await outgoing in self.flushes { try await self.send(outgoing) } }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Hands whatever is held now to `run`'s flusher (the end of a simulation); it is
    /// published after the partials before it.
    public func drain() {
        enqueueFlush()
    }

    private func heard(_ version: ModelVersion) {
        knownVersion = max(knownVersion, version)
    }

    func handle(_ delivery: Delivery) async throws {
        PipelineMetrics.updatesReceived.increment()
        let envelope: Envelope
        do throws(WireError) {
            envelope = try Envelope(bytes: delivery.body, limits: settings.limits, expecting: PipelineMessage.expectation(spec))
            guard envelope.header.kind == .clientUpdate else {
                throw WireError.inconsistentInput(field: .kind, reason: "expected a client update, got \(envelope.header.kind)")
            }
        } catch {
            try await refuse(delivery, reason: error.rejectionReason, detail: error.reasonCode, baseVersion: 0)
            return
        }
        let header = envelope.header
        if let maxNorm = settings.maxNorm {
            let norm = envelope.decode().reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            guard norm <= maxNorm else {
                try await refuse(delivery, reason: .outOfBounds, detail: "l2-norm \(norm) > \(maxNorm)", baseVersion: header.modelVersion)
                return
            }
        }
        // An update trained on a version proves that version exists, even before its fanout arrives.
        knownVersion = max(knownVersion, header.modelVersion)
        switch settings.staleness.verdict(base: header.modelVersion, current: knownVersion, samples: Int(header.sampleCount)) {
        case .dropStale(let tau):
            try await refuse(
                delivery, reason: .stale, detail: "stale: \(tau) versions behind (max \(settings.staleness.maxStaleness ?? 0))",
                baseVersion: header.modelVersion)
        case .accept(_, let weight, let mass):
            // Redelivered: flush what is open so this one travels alone (see the type's doc).
            if delivery.redelivered { enqueueFlush() }
            do {
                try partial.add(id: header.updateID, baseVersion: header.modelVersion, weight: weight, mass: mass) {
                    sum, weight in try envelope.accumulate(into: sum, weight: weight)
                }
            } catch {
                // The same id twice in one partial: a client's republished copy. The first
                // copy counts; this one is settled with it. (Accumulation validates before
                // it writes, so the sum is untouched.)
                held.append(delivery)
                return
            }
            held.append(delivery)
            if oldest == nil { oldest = .now }
            if delivery.redelivered || partial.count >= settings.flushUpdates { enqueueFlush() }
        }
    }

    private func settle(_ delivery: Delivery, id: UpdateID, baseVersion: ModelVersion, reason: RejectionReason) {
        settled.append(.init(updateID: id, baseVersion: baseVersion, reason: reason))
        held.append(delivery)
        if oldest == nil { oldest = .now }
    }

    private func flushIfDue() {
        guard let oldest, ContinuousClock.now - oldest >= settings.flushInterval else { return }
        enqueueFlush()
    }

    /// What one flush sends: the partial, the settled entries, and the deliveries they
    /// acknowledge once the broker confirmed both.
    private struct Outgoing: Sendable {
        var partial: PartialAggregate
        var settled: [PartialAggregateSummary.Settled]
        var deliveries: [Delivery]
    }

    /// Takes the open partial out (nil when nothing is held), so the actor can take more
    /// updates while it is published.
    private func takeOutgoing() -> Outgoing? {
        guard !held.isEmpty else { return nil }
        defer {
            partial = PartialAggregate(dimension: spec.parameterCount)
            settled = []
            held = []
            oldest = nil
        }
        return Outgoing(partial: partial, settled: settled, deliveries: held)
    }

    /// Hands the open partial to the flusher task without waiting for its confirm: the
    /// consumer goes on decoding the next updates (within its prefetch) meanwhile. Every
    /// flush while running goes through that one task, so partials are confirmed in the
    /// order their updates were delivered, which is what lets `send` ack them with one
    /// `multiple` ack.
    private func enqueueFlush() {
        if let outgoing = takeOutgoing() { flushQueue.yield(outgoing) }
    }

    private func send(_ flush: Outgoing) async throws {
        let outgoing = flush.partial
        let outgoingSettled = flush.settled
        let deliveries = flush.deliveries
        if !outgoing.isEmpty {
            try await publish(PartialAggregateSummary(
                weightTotal: outgoing.weightTotal, massTotal: outgoing.massTotal,
                entries: outgoing.entries.map { .init(updateID: $0.id, baseVersion: $0.baseVersion) }),
                sum: outgoing.weightedSum, codec: .fp32)
        }
        // Settled entries travel apart from added ones: the coordinator can account each
        // alone, however the broker interleaves redeliveries. Their zero sum deflates to
        // almost nothing.
        if !outgoingSettled.isEmpty {
            try await publish(
                PartialAggregateSummary(weightTotal: 0, massTotal: 0, entries: [], settled: outgoingSettled),
                sum: [Float](repeating: 0, count: spec.parameterCount), codec: Self.settledCodec)
        }
        // Every earlier delivery is in this flush or an earlier one, confirmed before it.
        try await deliveries.last?.ack(multiple: true)
    }

    private static let settledCodec = try! CodecSpec(parsing: "fp32+deflate")

    private func publish(_ summary: PartialAggregateSummary, sum: [Float], codec: CodecSpec) async throws {
        let header = MessageHeader(
            kind: .partialAggregate, specHash: spec.hash, modelVersion: knownVersion,
            parameterCount: spec.parameterCount, codec: codec)
        let body = try Envelope.encode(sum, header: header, partial: summary)
        try await transport.publish(
            body, exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey,
            properties: PipelineMessage.properties(for: header), mandatory: true)
        partialsPublished += 1
        PipelineMetrics.partialsFlushed.increment()
    }

    /// Parks a refused message in `fedq.dead` with the reason as a header (confirmed
    /// before anything else happens to it), then settles it like a stale one: an
    /// operator can inspect it, and the coordinator counts it once.
    private func refuse(_ delivery: Delivery, reason: RejectionReason, detail: String, baseVersion: ModelVersion) async throws {
        var properties = delivery.properties
        properties.headers[MessageProperties.HeaderName.rejectReason] = .string(reason.name)
        properties.headers[MessageProperties.HeaderName.rejectDetail] = .string(detail)
        try await transport.publish(
            delivery.body, exchange: PipelineTopology.deadExchange, routingKey: "", properties: properties, mandatory: false)
        settle(delivery, id: Settlement.updateID(of: delivery), baseVersion: baseVersion, reason: reason)
    }
}
