import FedCore
import Learning
import Messaging

/// The newest global model from the model fanout, for clients that wait for one.
///
/// Clients ask for "the newest model" (asynchronous training) or "a model newer than the
/// one I trained on" (synchronous rounds); the feed answers at once or parks them until
/// a newer version arrives. One feed lives as long as one model subscription.
public actor ModelFeed {
    private let spec: ModelSpec
    /// Drops (and counts) what does not decode or is not the coordinator's.
    private let verifier: ModelVerifier
    private var latest: GlobalModel?
    private var waiting: [(id: UInt64, after: ModelVersion?, continuation: CheckedContinuation<GlobalModel, any Error>)] = []
    private var nextWaiterID: UInt64 = 0
    /// Set when the subscription ends (the clients are stopping): no newer version can
    /// arrive, so a client waiting for one would wait forever and keep its run from returning.
    private var ended = false

    private init(spec: ModelSpec, verifier: ModelVerifier) {
        self.spec = spec
        self.verifier = verifier
    }

    /// Runs `body` with a feed filled from `models`, until either ends: the subscription
    /// ending (or failing) stops `body`, and `body` returning stops the subscription.
    /// A message `verifier` drops (garbage, another model, unsigned) is acknowledged and
    /// skipped: it never ends the subscription.
    public static func serve(
        _ models: Consumer, spec: ModelSpec, verifier: ModelVerifier = ModelVerifier(coordinatorKey: nil),
        _ body: @escaping @Sendable (ModelFeed) async throws -> Void
    ) async throws {
        let feed = ModelFeed(spec: spec, verifier: verifier)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.consume(models) }
            group.addTask { try await body(feed) }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Whether any model version has arrived (a table federation's clients stop sending
    /// their statistics then: the version carries the standardisation made from them).
    public var hasModel: Bool { latest != nil }

    /// The newest model, once one newer than `version` exists (any model for nil).
    /// - Throws: `CancellationError` once the subscription ended without one, or when the
    ///   caller's task is cancelled while it waits.
    public func model(after version: ModelVersion?) async throws -> GlobalModel {
        if let latest, version.map({ $0 < latest.version }) ?? true { return latest }
        guard !ended, !Task.isCancelled else { throw CancellationError() }
        let id = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { waiting.append((id, version, $0)) }
        } onCancel: {
            Task { await self.stopWaiting(id) }
        }
    }

    /// A cancelled waiter leaves at once (if a model has not already answered it).
    private func stopWaiting(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    private func consume(_ models: Consumer) async throws {
        defer { end() }
        var chunks = ModelChunks(spec: spec)
        for try await delivery in models {
            guard let delivery = try await chunks.take(delivery) else { continue }
            if let model = verifier.model(delivery, spec: spec) { received(model) }
            try await delivery.ack()
        }
    }

    private func received(_ model: GlobalModel) {
        guard latest.map({ $0.version < model.version }) ?? true else { return }
        latest = model
        let isReady: (ModelVersion?) -> Bool = { $0.map { $0 < model.version } ?? true }
        let ready = waiting.filter { isReady($0.after) }
        waiting.removeAll { isReady($0.after) }
        for waiter in ready { waiter.continuation.resume(returning: model) }
    }

    private func end() {
        ended = true
        let stranded = waiting
        waiting = []
        for waiter in stranded { waiter.continuation.resume(throwing: CancellationError()) }
    }
}
