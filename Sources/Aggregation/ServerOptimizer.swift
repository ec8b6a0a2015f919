import Foundation

/// The server-side optimiser that turns the aggregated delta Δ (the mean of clients'
/// `trained − base`, a descent direction) into a model step (Reddi et al. 2021,
/// "Adaptive Federated Optimization"). Its state is `Codable` and its buffers are
/// public, so the coordinator can checkpoint it with the model.
public struct ServerOptimizer: Sendable, Equatable, Codable {
    /// Which rule, with its hyper-parameters.
    public enum Rule: Sendable, Equatable, Codable, CustomStringConvertible {
        /// x += η·Δ. With η = 1 this is plain FedAvg / FedBuff.
        case sgd(learningRate: Float)
        /// FedAvgM: m = β·m + Δ; x += η·m.
        case momentum(learningRate: Float, beta: Float)
        /// FedAdam: m = β₁m + (1−β₁)Δ; v = β₂v + (1−β₂)Δ²; x += η·m / (√v + τ).
        /// No bias correction, as in Reddi et al.'s Algorithm 2.
        case adam(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float)

        /// The rule of a run that names none: plain FedBuff's step (η = 1). Longer steps
        /// helped in the simulator, where a version reaches every client at once (1.1 with
        /// K = 6, BENCHMARKS.md, "Tuning FedBuff for stragglers"), but not on RabbitMQ,
        /// where updates arrive more versions stale: there 1.1 (K = 6), 1.2 (K = 8) and 1.4
        /// (K = 10) let the accuracy dip as low as 58%, 84% and 51% between versions and
        /// needed 1.3-2.3× the updates to 97% (BENCHMARKS.md, "FedBuff's defaults on RabbitMQ").
        public static let `default` = Rule.sgd(learningRate: 1)

        public var description: String {
            switch self {
            case .sgd(let lr): "sgd:\(lr.formatted)"
            case .momentum(let lr, let beta): "momentum:\(lr.formatted),\(beta.formatted)"
            case .adam(let lr, let b1, let b2, let eps):
                "adam:" + [lr, b1, b2, eps].map { $0.formatted }.joined(separator: ",")
            }
        }
    }

    public let rule: Rule
    /// First moment (momentum buffer); empty until the first step.
    public private(set) var firstMoment: [Float]
    /// Second moment (Adam only); empty until the first step.
    public private(set) var secondMoment: [Float]
    /// Steps taken, for logs and checkpoints.
    public private(set) var steps: Int

    public init(_ rule: Rule) {
        self.rule = rule
        firstMoment = []
        secondMoment = []
        steps = 0
    }

    /// Restores an optimiser from a checkpoint's buffers.
    /// - Throws: `ServerOptimizerError.stateMismatch` when the buffers don't fit the rule.
    public init(
        _ rule: Rule, firstMoment: [Float], secondMoment: [Float], steps: Int
    ) throws(ServerOptimizerError) {
        let needsFirst = if case .sgd = rule { false } else { true }
        let needsSecond = if case .adam = rule { true } else { false }
        guard steps >= 0,
            needsFirst || firstMoment.isEmpty,
            needsSecond ? secondMoment.count == firstMoment.count : secondMoment.isEmpty
        else {
            throw .stateMismatch(rule: rule.description, first: firstMoment.count, second: secondMoment.count)
        }
        self.rule = rule
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.steps = steps
    }

    /// Applies one step of the rule to `model` given the aggregated `delta`.
    /// - Throws: `.dimensionMismatch` if the lengths differ, from each other or from the
    ///   optimiser's state; the model is unchanged then.
    public mutating func step(_ model: inout [Float], delta: [Float]) throws(ServerOptimizerError) {
        guard model.count == delta.count else {
            throw .dimensionMismatch(model: model.count, delta: delta.count)
        }
        guard firstMoment.isEmpty || firstMoment.count == delta.count else {
            throw .dimensionMismatch(model: firstMoment.count, delta: delta.count)
        }
        switch rule {
        case .sgd(let learningRate):
            model.addScaled(delta, by: learningRate)
        case .momentum(let learningRate, let beta):
            if firstMoment.isEmpty { firstMoment = [Float](repeating: 0, count: delta.count) }
            Self.momentumStep(&model, &firstMoment, delta, learningRate, beta)
        case .adam(let learningRate, let beta1, let beta2, let epsilon):
            if firstMoment.isEmpty {
                firstMoment = [Float](repeating: 0, count: delta.count)
                secondMoment = [Float](repeating: 0, count: delta.count)
            }
            Self.adamStep(&model, &firstMoment, &secondMoment, delta, learningRate, beta1, beta2, epsilon)
        }
        steps += 1
    }

    private static func momentumStep(
        _ model: inout [Float], _ moment: inout [Float], _ delta: [Float],
        _ learningRate: Float, _ beta: Float
    ) {
        model.withUnsafeMutableBufferPointer { x in
            moment.withUnsafeMutableBufferPointer { m in
                delta.withUnsafeBufferPointer { d in
                    for i in 0..<x.count {
                        m[i] = beta * m[i] + d[i]
                        x[i] += learningRate * m[i]
                    }
                }
            }
        }
    }

    private static func adamStep(
        _ model: inout [Float], _ first: inout [Float], _ second: inout [Float], _ delta: [Float],
        _ learningRate: Float, _ beta1: Float, _ beta2: Float, _ epsilon: Float
    ) {
        model.withUnsafeMutableBufferPointer { x in
            first.withUnsafeMutableBufferPointer { m in
                second.withUnsafeMutableBufferPointer { v in
                    delta.withUnsafeBufferPointer { d in
                        for i in 0..<x.count {
                            m[i] = beta1 * m[i] + (1 - beta1) * d[i]
                            v[i] = beta2 * v[i] + (1 - beta2) * d[i] * d[i]
                            x[i] += learningRate * m[i] / (v[i].squareRoot() + epsilon)
                        }
                    }
                }
            }
        }
    }
}

/// Why a server optimiser step or restore was refused.
public enum ServerOptimizerError: Error, Equatable, CustomStringConvertible {
    case dimensionMismatch(model: Int, delta: Int)
    case stateMismatch(rule: String, first: Int, second: Int)

    public var description: String {
        switch self {
        case .dimensionMismatch(let model, let delta):
            "server optimizer: model/state of \(model) parameters, delta of \(delta)"
        case .stateMismatch(let rule, let first, let second):
            "server optimizer state (\(first), \(second) values) does not fit '\(rule)'"
        }
    }
}
