/// What a local training run did.
public struct TrainingSummary: Sendable, Equatable {
    /// Optimiser steps taken (mini-batches, the last one possibly smaller).
    public var steps: Int
    /// Samples seen, over all epochs.
    public var samples: Int
    /// Mean training loss over the samples seen, measured before each step.
    public var meanLoss: Double
    /// Fraction of samples classified correctly before each step.
    public var accuracy: Double
}

extension Network {
    /// Trains for `epochs` passes over `dataset` (or over the samples at
    /// `indices`, a client's partition), reshuffling every epoch with
    /// `generator`, in mini-batches of `batchSize` (the last may be smaller).
    /// Momentum carries over between calls until `load(parameters:)` or
    /// `resetMomentum()`.
    /// - Throws: `ModelError` for a dataset of another width, an index out
    ///   of range, or a non-positive epoch count or batch size.
    @discardableResult
    public func train(
        on dataset: Dataset, indices: [Int]? = nil, epochs: Int, batchSize: Int, optimizer: SGD,
        generator: inout SeededGenerator
    ) throws(ModelError) -> TrainingSummary {
        try checkFeatures(dataset)
        guard epochs > 0, batchSize > 0 else {
            throw .invalidTrainingSetting("epochs and batch size must be positive, got \(epochs) and \(batchSize)")
        }
        order.removeAll(keepingCapacity: true)
        if let indices {
            guard indices.allSatisfy({ $0 >= 0 && $0 < dataset.count }) else {
                throw .invalidTrainingSetting("a sample index is outside 0..<\(dataset.count)")
            }
            order.append(contentsOf: indices)
        } else {
            order.append(contentsOf: 0..<dataset.count)
        }
        var summary = TrainingSummary(steps: 0, samples: 0, meanLoss: 0, accuracy: 0)
        guard !order.isEmpty else { return summary }
        reserve(batch: min(batchSize, order.count), backward: true)
        var lossSum = 0.0
        var correct = 0
        for _ in 0..<epochs {
            order.shuffle(using: &generator)
            var start = 0
            while start < order.count {
                let end = min(start + batchSize, order.count)
                gather(dataset, indices: order[start..<end])
                let outcome = step(batch: end - start, optimizer: optimizer)
                lossSum += Double(outcome.lossSum)
                correct += outcome.correct
                summary.steps += 1
                summary.samples += end - start
                start = end
            }
        }
        summary.meanLoss = lossSum / Double(summary.samples)
        summary.accuracy = Double(correct) / Double(summary.samples)
        return summary
    }

    /// One SGD step on the `batch` samples already in the batch buffers.
    func step(batch: Int, optimizer: SGD) -> SoftmaxCrossEntropy.Outcome {
        forward(batch: batch)
        let last = layers.count - 1
        let outcome = SoftmaxCrossEntropy.evaluate(
            logits: activations[last].pointer, labels: batchLabels.pointer, batch: batch, classes: spec.classCount,
            gradient: activationGradients[last].pointer, predictions: nil)
        if let fused = optimizer.fusedTarget {
            backward(batch: batch, target: GradientTarget(base: parameterStorage, alpha: fused.alpha, beta: fused.beta))
        } else {
            backward(batch: batch, target: GradientTarget(base: gradientStorage, alpha: 1, beta: 0))
            apply(optimizer, gradients: gradientStorage)
        }
        return outcome
    }

    /// The optimiser's step (momentum, weight decay) with `gradients` laid out like the parameters.
    func apply(_ optimizer: SGD, gradients: UnsafePointer<Float>) {
        let count = spec.parameterCount
        if velocity == nil {
            velocity = .allocate(capacity: count)
            velocity!.initialize(repeating: 0, count: count)
        }
        optimizer.apply(parameters: parameterStorage, gradients: gradients, velocity: velocity!, count: count)
    }
}
