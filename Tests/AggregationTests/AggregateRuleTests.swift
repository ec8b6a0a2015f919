import Foundation
import Testing

@testable import Aggregation

/// The robust rules of issue 16, as pure functions and inside a FedBuff buffer.
struct AggregateRuleTests {
    @Test func medianAndTrimmedMeanIgnoreOneHugeValuePerCoordinate() {
        let vectors: [[Float]] = [[1, 10], [2, 20], [3, 30], [4, 40], [1e30, -1e30]]
        #expect(AggregateRule.median.combine(vectors) == [3, 20])
        // 5 × 0.2 = one dropped at each end: (2 + 3 + 4) / 3 and (10 + 20 + 30) / 3.
        #expect(AggregateRule.trimmedMean(fraction: 0.2).combine(vectors) == [3, 20])
        #expect(AggregateRule.mean.combine([[1, 2], [3, 4]]) == [2, 3])
        #expect(AggregateRule.median.combine([[1], [2], [3], [10]]) == [2.5])
    }

    @Test func aTrimmedMeanTrimsShortBuffersButNeverDropsEveryValue() {
        // Of 2, nothing can be dropped; of 3, one at each end: the middle one stays.
        #expect(AggregateRule.trimmedMean(fraction: 0.49).combine([[1], [3]]) == [2])
        #expect(AggregateRule.trimmedMean(fraction: 0.49).combine([[1], [3], [100]]) == [3])
        // 0.1 of a short buffer of 4 still drops one at each end (rounded up, not down to 0).
        #expect(AggregateRule.trimmedMean(fraction: 0.1).combine([[1], [2], [3], [1e30]]) == [2.5])
        #expect(AggregateRule.trimmedMean(fraction: 0).combine([[1], [3]]) == [2])
    }

    @Test func rulesParseAndRefuseNonsense() throws {
        #expect(try AggregateRule(parsing: "mean") == .mean)
        #expect(try AggregateRule(parsing: "median") == .median)
        #expect(try AggregateRule(parsing: "trimmed-mean") == .trimmedMean(fraction: 0.1))
        #expect(try AggregateRule(parsing: "trimmed-mean:0.2") == .trimmedMean(fraction: 0.2))
        #expect(throws: SpecError.self) { try AggregateRule(parsing: "trimmed-mean:0.5") }
        #expect(throws: SpecError.self) { try AggregateRule(parsing: "krum") }
        #expect(AggregationStrategy.Kind.fedBuff(bufferSize: 10).workerFlushSize(workers: 2, rule: .median) == 1)
        #expect(AggregationStrategy.Kind.fedBuff(bufferSize: 10).workerFlushSize(workers: 2) == 5)
    }

    @Test func aFedBuffBufferUnderAMedianStepsByTheMedianUpdate() throws {
        var strategy = AggregationStrategy(.fedBuff(bufferSize: 3), rule: .median)
        let policy = StalenessPolicy(weighsBySamples: true)
        for (delta, samples) in [([Float](arrayLiteral: 1, 1), 10), ([2, 2], 600), ([-1e6, 1e6], 1_000_000)] {
            _ = strategy.receive(try AggregationStrategyTests.partial(delta, base: 0, current: 0, samples: samples, policy: policy), currentVersion: 0)
        }
        var model: [Float] = [0, 0]
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        let applied = try strategy.apply(to: &model, optimizer: &optimizer)
        // Sample weights are divided back out: each update is one vote, the median is [1, 2].
        #expect(model == [1, 2])
        #expect(applied?.count == 3)
        // The buffer is empty afterwards, apart copies included.
        _ = strategy.receive(try AggregationStrategyTests.partial([5, 5], base: 1, current: 1), currentVersion: 1)
        _ = try strategy.apply(to: &model, optimizer: &optimizer)
        // One update of a buffer of 3: a step of a third of it.
        #expect(model.map { ($0 * 1000).rounded() / 1000 } == [2.667, 3.667])
    }
}

/// The norm every update's clipping rests on.
struct VectorNormTests {
    @Test func theNormMatchesADoubleSumAndNeverOverflows() {
        var generator = SeededGenerator(seed: 5)
        // Not a multiple of 8 or of the 1,024 block: every tail is taken.
        let values = (0..<3_001).map { _ in Float.random(in: -1...1, using: &generator) }
        let reference = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(values.l2Norm() - reference) / reference < 1e-6)
        // 1e30 squared is past Float's range, not past Double's.
        let exploded = [Float](repeating: 1e30, count: 100) + [3]
        #expect(abs(exploded.l2Norm() - 1e31) / 1e31 < 1e-6)
        #expect([Float]().l2Norm() == 0)
    }
}
