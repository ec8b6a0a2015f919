import Foundation
import Testing

@testable import Aggregation

struct ServerOptimizerTests {
    @Test func sgdScalesTheDelta() throws {
        var optimizer = ServerOptimizer(.sgd(learningRate: 0.5))
        var model: [Float] = [1, 2]
        try optimizer.step(&model, delta: [2, -4])
        #expect(model == [2, 0])
        #expect(optimizer.steps == 1)
    }

    @Test func momentumAccumulatesVelocity() throws {
        var optimizer = ServerOptimizer(.momentum(learningRate: 1, beta: 0.9))
        var model: [Float] = [0]
        try optimizer.step(&model, delta: [1])  // m = 1, x = 1
        #expect(model == [1])
        try optimizer.step(&model, delta: [1])  // m = 0.9 + 1 = 1.9, x = 2.9
        #expect(abs(model[0] - 2.9) < 1e-6)
        #expect(abs(optimizer.firstMoment[0] - 1.9) < 1e-6)
    }

    @Test func adamFollowsReddiWithoutBiasCorrection() throws {
        var optimizer = ServerOptimizer(.adam(learningRate: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-3))
        var model: [Float] = [0]
        // m = 0.2, v = 0.04, x = 0.1·0.2 / (0.2 + 0.001)
        try optimizer.step(&model, delta: [2])
        #expect(abs(model[0] - 0.0995024876) < 1e-6)
        // m = 0.18, v = 0.0396, x += 0.1·0.18 / (√0.0396 + 0.001)
        try optimizer.step(&model, delta: [0])
        #expect(abs(model[0] - 0.1895036182) < 1e-6)
        #expect(abs(optimizer.secondMoment[0] - 0.0396) < 1e-7)
    }

    @Test func stateRoundTripsThroughCodableAndRestore() throws {
        var optimizer = ServerOptimizer(.adam(learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-3))
        var model: [Float] = [0, 1, 2]
        try optimizer.step(&model, delta: [1, -1, 0.5])
        let decoded = try JSONDecoder().decode(ServerOptimizer.self, from: JSONEncoder().encode(optimizer))
        #expect(decoded == optimizer)
        let restored = try ServerOptimizer(
            optimizer.rule, firstMoment: optimizer.firstMoment, secondMoment: optimizer.secondMoment,
            steps: optimizer.steps)
        #expect(restored == optimizer)
    }

    @Test func restoreRefusesStateOfAnotherRule() {
        #expect(throws: ServerOptimizerError.stateMismatch(rule: "sgd:1", first: 2, second: 0)) {
            try ServerOptimizer(.sgd(learningRate: 1), firstMoment: [1, 2], secondMoment: [], steps: 1)
        }
        #expect(throws: ServerOptimizerError.self) {
            try ServerOptimizer(
                .adam(learningRate: 1, beta1: 0.9, beta2: 0.99, epsilon: 1e-3), firstMoment: [1, 2],
                secondMoment: [1], steps: 1)
        }
    }

    @Test func stepRefusesAMismatchedDelta() {
        var optimizer = ServerOptimizer(.sgd(learningRate: 1))
        var model: [Float] = [0, 0]
        #expect(throws: ServerOptimizerError.dimensionMismatch(model: 2, delta: 3)) {
            try optimizer.step(&model, delta: [1, 1, 1])
        }
        #expect(model == [0, 0])
    }

    @Test(arguments: [
        ("sgd:1.0", ServerOptimizer.Rule.sgd(learningRate: 1)),
        ("momentum:1.0,0.9", .momentum(learningRate: 1, beta: 0.9)),
        ("adam:0.01,0.9,0.99,1e-3", .adam(learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 0.001)),
    ])
    func parses(spec: String, expected: ServerOptimizer.Rule) throws {
        let rule = try ServerOptimizer.Rule(parsing: spec)
        #expect(rule == expected)
        #expect(try ServerOptimizer.Rule(parsing: rule.description) == rule)
    }

    /// Reports, checkpoints and logs print a rule as it was written, not as its `Float`
    /// widened to `Double` (`sgd:1.100000023841858`).
    @Test func describesItsRatesInTheirShortestForm() {
        #expect(ServerOptimizer.Rule.default.description == "sgd:1")
        #expect(ServerOptimizer.Rule.sgd(learningRate: 1.1).description == "sgd:1.1")
        #expect(ServerOptimizer.Rule.momentum(learningRate: 0.7, beta: 0.9).description == "momentum:0.7,0.9")
        #expect(ServerOptimizer.Rule.sgd(learningRate: 2).description == "sgd:2")
        #expect(AggregationStrategy.Kind.fedAsync(mixing: 0.6).description == "fedasync:0.6")
        #expect(AggregationStrategy.Kind.default.description == "fedbuff:7")
    }

    @Test(arguments: ["sgd", "sgd:0", "momentum:1,1", "adam:0.01,0.9,0.99", "adam:0.01,0.9,0.99,0", "rmsprop:1"])
    func rejectsBadSpecs(spec: String) {
        #expect(throws: SpecError.self) { try ServerOptimizer.Rule(parsing: spec) }
    }
}
