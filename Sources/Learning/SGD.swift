/// Stochastic gradient descent with momentum and L2 weight decay, with
/// PyTorch's semantics: `v = momentum * v + (g + weightDecay * w)`,
/// `w -= learningRate * v` (no dampening, no Nesterov).
public struct SGD: Sendable, Equatable {
    public let learningRate: Float
    public let momentum: Float
    public let weightDecay: Float

    /// - Throws: `ModelError.invalidTrainingSetting` for a non-positive rate,
    ///   momentum outside [0, 1) or negative weight decay.
    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) throws(ModelError) {
        guard learningRate > 0, learningRate.isFinite else { throw .invalidTrainingSetting("learning rate must be positive, got \(learningRate)") }
        guard momentum >= 0, momentum < 1 else { throw .invalidTrainingSetting("momentum must be in [0, 1), got \(momentum)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw .invalidTrainingSetting("weight decay must be >= 0, got \(weightDecay)") }
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    /// Without momentum the update is folded into the backward GEMMs
    /// (`W = (1 - lr * wd) * W - lr * dW`), so no gradient buffer is written.
    var fusedTarget: (alpha: Float, beta: Float)? {
        momentum == 0 ? (-learningRate, 1 - learningRate * weightDecay) : nil
    }

    /// The momentum step over the whole flat buffer.
    func apply(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, velocity: UnsafeMutablePointer<Float>, count: Int) {
        let lr = learningRate
        let mu = momentum
        let wd = weightDecay
        for i in 0..<count {
            let v = mu * velocity[i] + gradients[i] + wd * parameters[i]
            velocity[i] = v
            parameters[i] -= lr * v
        }
    }
}
