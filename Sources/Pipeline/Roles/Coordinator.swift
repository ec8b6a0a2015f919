import Aggregation
import Foundation
import Learning
import Wire

/// The one owner of the global model: merges the workers' partials, lets
/// the strategy decide when an aggregate is ready, applies it through the
/// server optimiser, bumps the version and publishes it on the fanout.
///
/// Partials are acknowledged only after the version containing them was
/// published, so a coordinator crash makes the broker redeliver them; the
/// applied-id set then keeps a redelivered update from counting twice.
public actor Coordinator {
    private let transport: any Transport
    private let spec: ModelSpec
    private let ledger: PipelineLedger
    private var strategy: AggregationStrategy
    private var optimizer: ServerOptimizer
    public private(set) var model: GlobalModel
    private var held: [Delivery] = []
    private var appliedIDs: Set<UpdateID> = []
    /// Called with each new version once it is published (progress, tests).
    private let onVersion: @Sendable (GlobalModel) -> Void

    public init(
        transport: any Transport, spec: ModelSpec, initialParameters: [Float], strategy: AggregationStrategy,
        optimizer: ServerOptimizer, ledger: PipelineLedger, onVersion: @escaping @Sendable (GlobalModel) -> Void = { _ in }
    ) {
        self.transport = transport
        self.spec = spec
        self.strategy = strategy
        self.optimizer = optimizer
        self.ledger = ledger
        self.onVersion = onVersion
        model = GlobalModel(version: 0, parameters: initialParameters, updatesApplied: 0)
    }

    /// Publishes the current version, so that subscribers have a model to start from.
    public func announce() async throws {
        let (body, properties) = try PipelineMessage.encodeModel(model, spec: spec)
        try await transport.publish(body, exchange: PipelineTopology.modelsExchange, routingKey: "", properties: properties, mandatory: false)
        onVersion(model)
    }

    /// Consumes partials until cancelled.
    public func run(prefetch: Int = 64) async throws {
        let partials = try await transport.consume(queue: PipelineTopology.partialsQueue, prefetch: prefetch)
        for try await delivery in partials { try await handle(delivery) }
    }

    /// Applies whatever the strategy still buffers (the end of a run), even short of its K.
    public func drain() async throws {
        if strategy.pendingCount > 0 { try await applyPending() }
    }

    func handle(_ delivery: Delivery) async throws {
        let partial: PartialAggregate
        do {
            let envelope = try Envelope(bytes: delivery.body, expecting: PipelineMessage.expectation(spec))
            guard envelope.header.kind == .partialAggregate, let summary = envelope.partial else {
                throw WireError.inconsistentInput(field: .kind, reason: "expected a partial aggregate, got \(envelope.header.kind)")
            }
            partial = try PartialAggregate(
                weightedSum: envelope.decode(), weightTotal: summary.weightTotal, massTotal: summary.massTotal,
                entries: summary.entries.map { .init(id: UpdateID($0.updateID), baseVersion: $0.baseVersion) })
        } catch {
            // A partial that fails to decode holds updates we cannot name: park it for an operator.
            try await refuse(delivery, reason: .malformed, count: 0, detail: "\(error)")
            return
        }
        if partial.updateIDs.contains(where: appliedIDs.contains) {
            try await refuse(delivery, reason: .duplicate, count: partial.count, detail: "already applied")
            return
        }
        switch strategy.receive(partial, currentVersion: model.version) {
        case .buffered:
            held.append(delivery)
        case .ready:
            held.append(delivery)
            try await applyPending()
        case .rejected(let reason):
            try await refuse(delivery, reason: reason, count: partial.count, detail: reason.rawValue)
        }
    }

    private func applyPending() async throws {
        guard let applied = try strategy.apply(to: &model.parameters, optimizer: &optimizer) else { return }
        ledger.record { $0.recordApplied(applied, at: model.version) }
        appliedIDs.formUnion(applied.entries.map(\.id))
        model.version += 1
        model.updatesApplied += applied.count
        try await announce()
        let acknowledged = held
        held = []
        for delivery in acknowledged { try await delivery.ack() }
    }

    private func refuse(_ delivery: Delivery, reason: RejectionReason, count: Int, detail: String) async throws {
        ledger.record { $0.recordRejected(reason, count: count) }
        var properties = delivery.properties
        properties.headers[Wire.MessageProperties.HeaderName.rejectReason] = .string(detail)
        try await transport.publish(
            delivery.body, exchange: PipelineTopology.deadExchange, routingKey: "", properties: properties, mandatory: false)
        try await delivery.ack()
    }
}
