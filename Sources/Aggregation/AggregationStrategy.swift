/// A pure decision-maker for the coordinator: it is handed merged partials, says when
/// an aggregate is ready, and applies it to the model through a server optimiser. It
/// never sees bytes, queues or clocks; the coordinator owns the model and its version
/// and bumps the version by one after each `apply`.
///
/// Its state (the buffered partial) is `Codable` so a checkpoint can hold it.
public struct AggregationStrategy: Sendable, Equatable, Codable {
    public enum Kind: Sendable, Equatable, Codable, CustomStringConvertible {
        /// FedAsync (Xie et al. 2019): every update is mixed in as soon as it arrives with
        /// weight α·s(τ). In delta form x ← x + α·s(τ)·Δ, which is the paper's
        /// x ← (1 − α)x + α·x_new exactly when τ = 0; a partial of n updates applies their
        /// sum, as if applied one after another.
        case fedAsync(mixing: Float)
        /// FedBuff (Nguyen et al. 2022): buffer K updates, then apply their
        /// staleness-weighted mean delta Σ s(τᵢ)·Δᵢ / K (or Σ nᵢ·s(τᵢ)·Δᵢ / Σ nᵢ).
        case fedBuff(bufferSize: Int)
        /// Synchronous FedAvg (McMahan et al. 2017), the baseline: a round is the current
        /// version; it completes once `clientsPerRound` updates trained on it arrived,
        /// and only those count. The coordinator samples M clients per round and
        /// workers use `stalenessPolicy`'s max-staleness 0.
        case fedAvg(clientsPerRound: Int)

        /// FedBuff's K when none is named. 7 rather than the paper's 10: with 10 clients
        /// training at once, a buffer of 10 holds updates about one version stale, and
        /// `poly:0.5` weighs each 0.7, so a step is 0.7 of a FedAvg round's; a smaller
        /// buffer takes fresher steps. Smaller than 7 costs the deployed pipeline: each
        /// version must reach every client over the broker, so its staleness in versions
        /// grows as K shrinks (on RabbitMQ, 100 clients: 1.2 at K = 10, 1.65 at 7, 1.9-2.1
        /// at 6, 3.2-3.6 at 4, which diverged). With the server rate 1.0, K = 7 reached 97%
        /// in 723-1,058 updates there, median 757 (K = 10: 847-869; K = 6 with 1.1, the
        /// default before: 1,388-1,812, dipping to 58%), and in the simulator with 10% of
        /// the clients 10× slower 4.0-4.3× sooner than FedAvg (BENCHMARKS.md, "FedBuff's
        /// defaults on RabbitMQ").
        public static let defaultFedBuffSize = 7
        /// Synchronous FedAvg's M when none is named: McMahan et al.'s C = 0.1 of 100 clients.
        public static let defaultFedAvgClients = 10
        /// FedAsync's α when none is named (Xie et al.'s 0.6).
        public static let defaultFedAsyncMixing: Float = 0.6
        /// The strategy of a run that names none.
        public static let `default` = Kind.fedBuff(bufferSize: defaultFedBuffSize)

        /// How many updates make an aggregate ready.
        public var updatesNeeded: Int {
            switch self {
            case .fedAsync: 1
            case .fedBuff(let k): k
            case .fedAvg(let m): m
            }
        }

        /// Synchronous FedAvg's M: the clients a round samples (nil for the asynchronous
        /// strategies, where every client trains whenever it is ready).
        public var clientsPerRound: Int? {
            if case .fedAvg(let m) = self { m } else { nil }
        }

        /// How many updates a worker folds into one partial before publishing it, when
        /// `workers` share the load (`requested` overrides it for the buffered strategies).
        /// FedAsync applies every update on its own, so a partial holds one; FedBuff and
        /// FedAvg need K (or M) per aggregate, so each of the workers sends its share of
        /// K: fewer partials per version, and no worker sits on updates another buffer needs.
        public func workerFlushSize(workers: Int, requested: Int? = nil, rule: AggregateRule = .mean) -> Int {
            // A robust rule combines updates one by one: a sum of several would hide them.
            if rule.needsEachUpdate { return 1 }
            return switch self {
            case .fedAsync: 1
            case .fedBuff(let k), .fedAvg(let k): max(1, requested ?? k / max(1, workers))
            }
        }

        public var description: String {
            switch self {
            case .fedAsync(let alpha): "fedasync:\(alpha.formatted)"
            case .fedBuff(let k): "fedbuff:\(k)"
            case .fedAvg(let m): "fedavg:\(m)"
            }
        }
    }

    public let kind: Kind
    /// How an aggregate's updates are combined: their mean (sums, which scale over
    /// workers), or a robust rule over each update apart.
    public let rule: AggregateRule
    /// Partials received since the last `apply`, merged.
    public private(set) var pending: PartialAggregate?
    /// The same partials apart, for a robust `rule` (empty for the mean).
    private var members: [PartialAggregate] = []

    public init(_ kind: Kind, rule: AggregateRule = .mean) {
        self.kind = kind
        self.rule = rule
        pending = nil
    }

    /// Updates waiting to be applied.
    public var pendingCount: Int { pending?.count ?? 0 }

    /// How many updates make an aggregate ready.
    public var updatesNeeded: Int { kind.updatesNeeded }

    /// The policy workers must weigh updates with for this strategy: FedAvg counts only
    /// updates on the current version, unweighted by staleness; the asynchronous
    /// strategies use the configured function and bound.
    public func stalenessPolicy(_ configured: StalenessPolicy) -> StalenessPolicy {
        guard case .fedAvg = kind else { return configured }
        return StalenessPolicy(function: .constant, maxStaleness: 0, weighsBySamples: configured.weighsBySamples)
    }

    /// Takes a (possibly merged) partial while the global model is at `currentVersion`.
    /// A rejected partial leaves the strategy unchanged; the coordinator accounts for
    /// its updates under the reason and dead-letters or acks it.
    public mutating func receive(_ partial: PartialAggregate, currentVersion: ModelVersion) -> AggregationDecision {
        guard !partial.isEmpty else { return decision(pending: pendingCount) }
        if case .fedAvg = kind, partial.entries.contains(where: { $0.baseVersion != currentVersion }) {
            return .rejected(.wrongRound)
        }
        guard var buffered = pending else {
            pending = partial
            if rule.needsEachUpdate { members = [partial] }
            return decision(pending: partial.count)
        }
        // Take the buffer out while merging so its sum is mutated in place, not copied.
        pending = nil
        defer { pending = buffered }
        do {
            try buffered.merge(partial)
        } catch .duplicateUpdate {
            return .rejected(.duplicate)
        } catch {
            return .rejected(.wrongModel)
        }
        if rule.needsEachUpdate { members.append(partial) }
        return decision(pending: buffered.count)
    }

    private func decision(pending count: Int) -> AggregationDecision {
        count >= updatesNeeded ? .ready(updates: count) : .buffered(updates: count, needed: updatesNeeded)
    }

    /// Applies the pending aggregate to `model` through `optimizer` and empties the
    /// buffer. Call it after `receive` said `.ready` (it applies whatever is pending,
    /// so a coordinator may also flush early, e.g. at the end of a run).
    /// - Returns: what was applied, for accounting and acking; `nil` if nothing was pending.
    /// - Throws: `ServerOptimizerError` if the model's size differs from the aggregate's;
    ///   the buffer is kept then.
    /// - Parameter perturbing: called with the buffered sum Σ wᵢ·Δᵢ before the mean is
    ///   taken (differential privacy adds its noise there).
    public mutating func apply(
        to model: inout [Float], optimizer: inout ServerOptimizer, perturbing: ((inout [Float]) -> Void)? = nil
    ) throws(ServerOptimizerError) -> AppliedAggregate? {
        guard var aggregate = pending else { return nil }
        if let perturbing {
            pending = nil  // not shared while it is changed: no copy of the sum
            aggregate.perturbSum(perturbing)
            pending = aggregate
        }
        let delta: [Float] =
            switch kind {
            case .fedAsync(let alpha): aggregate.meanDelta.scaled(by: alpha * Float(aggregate.count))
            case .fedBuff where rule.needsEachUpdate && !members.isEmpty, .fedAvg where rule.needsEachUpdate && !members.isEmpty:
                // Each partial is one vote (workers send one update each under a robust
                // rule): its staleness-weighted delta, sample weights divided back out.
                rule.combine(members.map { $0.weightedSum.scaled(by: Float(Double($0.count) / max($0.massTotal, .leastNormalMagnitude))) })
                    .scaled(by: Float(min(aggregate.count, updatesNeeded)) / Float(updatesNeeded))
            case .fedBuff, .fedAvg:
                // A buffer applied short (its wait ran out, or the run is draining) takes
                // the step its n of K updates earn: Σ/K, as if the missing ones were zero,
                // not a full step from the noisier mean of a few (which made a run's last
                // version worse than the one before it). Each update moves the model as
                // much as it would in a full buffer.
                aggregate.count >= updatesNeeded
                    ? aggregate.meanDelta : aggregate.meanDelta.scaled(by: Float(aggregate.count) / Float(updatesNeeded))
            }
        try optimizer.step(&model, delta: delta)
        pending = nil
        members = []
        return AppliedAggregate(entries: aggregate.entries, weightTotal: aggregate.weightTotal)
    }
}

extension AggregationStrategy {
    /// Empties the buffer without applying it; returns the updates it held (refused
    /// aggregates, e.g. once a privacy budget is spent).
    public mutating func discardPending() -> [PartialAggregate.Entry] {
        defer {
            pending = nil
            members = []
        }
        return pending?.entries ?? []
    }
}

/// What `AggregationStrategy.receive` decided about a partial.
public enum AggregationDecision: Sendable, Equatable {
    /// Kept; `updates` of the `needed` are pending.
    case buffered(updates: Int, needed: Int)
    /// Kept; the aggregate is ready: call `apply(to:optimizer:)`.
    case ready(updates: Int)
    /// Not used, for this reason; the strategy is unchanged.
    case rejected(RejectionReason)
}

/// The updates one `apply` folded into the model.
public struct AppliedAggregate: Sendable, Equatable {
    public let entries: [PartialAggregate.Entry]
    /// Σ wᵢ of the updates: below their count when staleness discounted them.
    public let weightTotal: Double

    public var count: Int { entries.count }
}
