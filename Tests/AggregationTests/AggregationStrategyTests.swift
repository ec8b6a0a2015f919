import Foundation
import Testing

@testable import Aggregation

struct AggregationStrategyTests {
    /// A one-update partial weighed by `policy` at `current`.
    static func partial(
        _ delta: [Float], base: ModelVersion, current: ModelVersion, samples: Int = 1,
        policy: StalenessPolicy = StalenessPolicy()
    ) throws -> PartialAggregate {
        var partial = PartialAggregate(dimension: delta.count)
        guard case .accept(_, let weight, let mass) = policy.verdict(base: base, current: current, samples: samples)
        else { Issue.record("unexpectedly stale"); return partial }
        try partial.add(id: .random(), baseVersion: base, weight: weight, mass: mass, delta: delta)
        return partial
    }

    @Test func fedBuffAppliesStalenessWeightedMeanOfK() throws {
        let policy = StalenessPolicy(function: .polynomial(a: 0.5))
        var strategy = AggregationStrategy(.fedBuff(bufferSize: 3))
        // τ = 0, 3, 0 → s = 1, 0.5, 1; Σ s·Δ = [3, 3]; / K = [1, 1].
        #expect(strategy.receive(try Self.partial([2, 0], base: 10, current: 10, policy: policy), currentVersion: 10) == .buffered(updates: 1, needed: 3))
        #expect(strategy.receive(try Self.partial([0, 4], base: 7, current: 10, policy: policy), currentVersion: 10) == .buffered(updates: 2, needed: 3))
        #expect(strategy.receive(try Self.partial([1, 1], base: 10, current: 10, policy: policy), currentVersion: 10) == .ready(updates: 3))
        var model: [Float] = [0, 0]
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        let applied = try strategy.apply(to: &model, optimizer: &optimizer)
        #expect(model == [1, 1])
        #expect(applied?.count == 3)
        #expect(applied?.weightTotal == 2.5)
        #expect(strategy.pendingCount == 0)
        #expect(try strategy.apply(to: &model, optimizer: &optimizer) == nil)
    }

    /// A buffer applied before it filled (its wait ran out, or the run drains) steps by
    /// what its n of K updates earn, Σ/K, not by their full mean.
    @Test func aShortFedBuffBufferTakesAStepInProportionToItsFill() throws {
        var strategy = AggregationStrategy(.fedBuff(bufferSize: 4))
        _ = strategy.receive(try Self.partial([2, 0], base: 5, current: 5), currentVersion: 5)
        #expect(strategy.receive(try Self.partial([0, 2], base: 5, current: 5), currentVersion: 5) == .buffered(updates: 2, needed: 4))
        var model: [Float] = [1, 1]
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        let applied = try strategy.apply(to: &model, optimizer: &optimizer)
        // mean [1, 1] × 2/4
        #expect(model == [1.5, 1.5])
        #expect(applied?.count == 2)

        // A full buffer is unchanged: the mean of its K.
        var full = AggregationStrategy(.fedBuff(bufferSize: 2))
        _ = full.receive(try Self.partial([2, 0], base: 5, current: 5), currentVersion: 5)
        _ = full.receive(try Self.partial([0, 2], base: 5, current: 5), currentVersion: 5)
        var fullModel: [Float] = [1, 1]
        _ = try full.apply(to: &fullModel, optimizer: &optimizer)
        #expect(fullModel == [2, 2])
    }

    @Test func fedBuffWithSampleWeighting() throws {
        let policy = StalenessPolicy(function: .polynomial(a: 0.5), weighsBySamples: true)
        var strategy = AggregationStrategy(.fedBuff(bufferSize: 3))
        // weights s·n = 1·1, 0.5·2, 1·1; Σ w·Δ = [3, 5]; Σ n = 4 → [0.75, 1.25].
        _ = strategy.receive(try Self.partial([2, 0], base: 10, current: 10, samples: 1, policy: policy), currentVersion: 10)
        _ = strategy.receive(try Self.partial([0, 4], base: 7, current: 10, samples: 2, policy: policy), currentVersion: 10)
        _ = strategy.receive(try Self.partial([1, 1], base: 10, current: 10, samples: 1, policy: policy), currentVersion: 10)
        var model: [Float] = [0, 0]
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        _ = try strategy.apply(to: &model, optimizer: &optimizer)
        #expect(model == [0.75, 1.25])
    }

    @Test(arguments: [
        // (α, τ, Δ, expected step) with poly:0.5: step = α·s(τ)·Δ
        (Float(0.5), ModelVersion(3), [Float(4), -2], [Float(1), -0.5]),  // s = 0.5
        (0.6, 0, [1, 1], [0.6, 0.6]),  // s = 1
        (1.0, 8, [9, 3], [3, 1]),  // s = 1/3
    ])
    func fedAsyncMixesEachUpdateAtOnce(alpha: Float, tau: ModelVersion, delta: [Float], expected: [Float]) throws {
        let policy = StalenessPolicy(function: .polynomial(a: 0.5))
        var strategy = AggregationStrategy(.fedAsync(mixing: alpha))
        let decision = strategy.receive(try Self.partial(delta, base: 20 - tau, current: 20, policy: policy), currentVersion: 20)
        #expect(decision == .ready(updates: 1))
        var model: [Float] = [0, 0]
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        _ = try strategy.apply(to: &model, optimizer: &optimizer)
        #expect(zip(model, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func fedAsyncPartialOfSeveralUpdatesAppliesTheirSum() throws {
        var partial = try Self.partial([1, 0], base: 5, current: 5)
        try partial.merge(try Self.partial([0, 2], base: 5, current: 5))
        var strategy = AggregationStrategy(.fedAsync(mixing: 0.5))
        #expect(strategy.receive(partial, currentVersion: 5) == .ready(updates: 2))
        var model: [Float] = [0, 0]
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        _ = try strategy.apply(to: &model, optimizer: &optimizer)
        #expect(model == [0.5, 1])  // as two sequential steps of 0.5·Δ
    }

    @Test func fedAvgTakesOnlyCurrentRoundAndWeighsBySamples() throws {
        let policy = AggregationStrategy(.fedAvg(clientsPerRound: 2))
            .stalenessPolicy(StalenessPolicy(function: .polynomial(a: 0.5), maxStaleness: 9, weighsBySamples: true))
        #expect(policy == StalenessPolicy(function: .constant, maxStaleness: 0, weighsBySamples: true))
        #expect(policy.verdict(base: 6, current: 7) == .dropStale(staleness: 1))

        var strategy = AggregationStrategy(.fedAvg(clientsPerRound: 2))
        #expect(strategy.receive(try Self.partial([1, 0], base: 7, current: 7, samples: 10, policy: policy), currentVersion: 7) == .buffered(updates: 1, needed: 2))
        // An update from last round is refused even if a lagging worker let it through.
        #expect(strategy.receive(try Self.partial([5, 5], base: 6, current: 6, policy: policy), currentVersion: 7) == .rejected(.wrongRound))
        #expect(strategy.receive(try Self.partial([0, 1], base: 7, current: 7, samples: 30, policy: policy), currentVersion: 7) == .ready(updates: 2))
        var model: [Float] = [1, 1]
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        _ = try strategy.apply(to: &model, optimizer: &optimizer)
        #expect(model == [1.25, 1.75])  // (10·[1,0] + 30·[0,1]) / 40
    }

    @Test func refusesAPartialWhoseUpdatesArePending() throws {
        let partial = try Self.partial([1], base: 0, current: 0)
        var strategy = AggregationStrategy(.fedBuff(bufferSize: 5))
        #expect(strategy.receive(partial, currentVersion: 0) == .buffered(updates: 1, needed: 5))
        #expect(strategy.receive(partial, currentVersion: 0) == .rejected(.duplicate))
        let otherModel = try Self.partial([1, 2, 3], base: 0, current: 0)
        #expect(strategy.receive(otherModel, currentVersion: 0) == .rejected(.wrongModel))
        #expect(strategy.pendingCount == 1)
    }

    @Test func stateRoundTripsThroughCodable() throws {
        var strategy = AggregationStrategy(.fedBuff(bufferSize: 4))
        _ = strategy.receive(try Self.partial([1, 2], base: 3, current: 4), currentVersion: 4)
        let decoded = try JSONDecoder().decode(AggregationStrategy.self, from: JSONEncoder().encode(strategy))
        #expect(decoded == strategy)
    }

    @Test(arguments: [
        ("fedasync", AggregationStrategy.Kind.fedAsync(mixing: 0.6)),
        ("fedasync:0.4", .fedAsync(mixing: 0.4)),
        ("fedbuff", .fedBuff(bufferSize: 7)),
        ("fedbuff:3", .fedBuff(bufferSize: 3)),
        ("fedavg:20", .fedAvg(clientsPerRound: 20)),
    ])
    func parses(spec: String, expected: AggregationStrategy.Kind) throws {
        #expect(try AggregationStrategy.Kind(parsing: spec) == expected)
    }

    @Test(arguments: ["fedbuff:0", "fedbuff:2.5", "fedasync:1.5", "fedavg:1,2", "fedprox"])
    func rejectsBadSpecs(spec: String) {
        #expect(throws: SpecError.self) { try AggregationStrategy.Kind(parsing: spec) }
    }
}

