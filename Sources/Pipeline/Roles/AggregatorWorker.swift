import Aggregation
import Foundation
import Learning
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

    public init(
        flushUpdates: Int, flushInterval: Duration = .milliseconds(20), prefetch: Int = 32,
        staleness: StalenessPolicy, limits: DecodeLimits = .default
    ) {
        self.flushUpdates = max(1, flushUpdates)
        self.flushInterval = flushInterval
        self.prefetch = max(prefetch, self.flushUpdates)
        self.staleness = staleness
        self.limits = limits
    }
}

/// A competing consumer on the updates queue: decodes each client update
/// straight into a running partial aggregate, weighs it by staleness, and
/// publishes the partial to the coordinator.
///
/// Updates are acknowledged only after the broker confirmed the partial that
/// contains them, so a worker that dies loses nothing: its unacknowledged
/// updates go back to the queue for another worker.
public actor AggregatorWorker {
    private let transport: any Transport
    private let spec: ModelSpec
    private let settings: WorkerSettings
    private let ledger: PipelineLedger
    private var partial: PartialAggregate
    private var held: [Delivery] = []
    private var oldest: ContinuousClock.Instant?
    /// The newest global version this worker has heard of: staleness is measured against it.
    private var knownVersion: ModelVersion = 0
    public private(set) var partialsPublished = 0

    public init(transport: any Transport, spec: ModelSpec, settings: WorkerSettings, ledger: PipelineLedger) {
        self.transport = transport
        self.spec = spec
        self.settings = settings
        self.ledger = ledger
        partial = PartialAggregate(dimension: spec.parameterCount)
    }

    /// Consumes updates (and listens for new model versions) until cancelled;
    /// then flushes what it holds.
    public func run() async throws {
        let updates = try await transport.consume(queue: PipelineTopology.updatesQueue, prefetch: settings.prefetch)
        let models = try await PipelineTopology.subscribeToModels(on: transport)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await delivery in models {
                    if let version = PipelineMessage.announcedVersion(delivery) { await self.heard(version) }
                    try await delivery.ack()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.settings.flushInterval / 2)
                    try await self.flushIfDue()
                }
            }
            group.addTask {
                for try await delivery in updates { try await self.handle(delivery) }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Publishes whatever is held now (the end of a run).
    public func drain() async throws {
        try await flush()
    }

    private func heard(_ version: ModelVersion) {
        knownVersion = max(knownVersion, version)
    }

    func handle(_ delivery: Delivery) async throws {
        let envelope: Envelope
        do throws(WireError) {
            envelope = try Envelope(bytes: delivery.body, limits: settings.limits, expecting: PipelineMessage.expectation(spec))
            guard envelope.header.kind == .clientUpdate else {
                throw WireError.inconsistentInput(field: .kind, reason: "expected a client update, got \(envelope.header.kind)")
            }
        } catch {
            try await deadLetter(delivery, reason: error.reasonCode)
            ledger.record { $0.recordRejected(RejectionReason(error)) }
            return
        }
        let header = envelope.header
        // An update trained on a version proves that version exists, even before its fanout arrives.
        knownVersion = max(knownVersion, header.modelVersion)
        switch settings.staleness.verdict(base: header.modelVersion, current: knownVersion, samples: Int(header.sampleCount)) {
        case .dropStale:
            ledger.record { $0.recordDroppedStale() }
            try await delivery.ack()
        case .accept(_, let weight, let mass):
            do {
                try partial.add(id: UpdateID(header.updateID), baseVersion: header.modelVersion, weight: weight, mass: mass) {
                    sum, weight in try envelope.accumulate(into: sum, weight: weight)
                }
            } catch {
                // Accumulation validates before it writes, so the sum is untouched.
                try await deadLetter(delivery, reason: "duplicate")
                ledger.record { $0.recordRejected(.duplicate) }
                return
            }
            held.append(delivery)
            if oldest == nil { oldest = .now }
            if partial.count >= settings.flushUpdates { try await flush() }
        }
    }

    private func flushIfDue() async throws {
        guard let oldest, ContinuousClock.now - oldest >= settings.flushInterval else { return }
        try await flush()
    }

    private func flush() async throws {
        guard !partial.isEmpty else { return }
        // Take the partial out first: the actor may take more updates while the publish awaits.
        let outgoing = partial
        let deliveries = held
        partial = PartialAggregate(dimension: spec.parameterCount)
        held = []
        oldest = nil
        let header = MessageHeader(
            kind: .partialAggregate, specHash: spec.hash, modelVersion: knownVersion,
            parameterCount: spec.parameterCount, codec: .fp32)
        let summary = PartialAggregateSummary(
            weightTotal: outgoing.weightTotal, massTotal: outgoing.massTotal,
            entries: outgoing.entries.map { .init(updateID: Wire.UpdateID(bytes: $0.id.bytes)!, baseVersion: $0.baseVersion) })
        let body = try Envelope.encode(outgoing.weightedSum, header: header, partial: summary)
        try await transport.publish(
            body, exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey,
            properties: PipelineMessage.properties(for: header), mandatory: true)
        partialsPublished += 1
        for delivery in deliveries { try await delivery.ack() }
    }

    /// Parks a refused message in the dead-letter queue with the reason as a
    /// header, then acknowledges it: an operator can inspect it, and it is never redelivered.
    private func deadLetter(_ delivery: Delivery, reason: String) async throws {
        var properties = delivery.properties
        properties.headers[Wire.MessageProperties.HeaderName.rejectReason] = .string(reason)
        try await transport.publish(
            delivery.body, exchange: PipelineTopology.deadExchange, routingKey: "", properties: properties, mandatory: false)
        try await delivery.ack()
    }
}
