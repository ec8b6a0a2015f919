extension Network {
    /// Mean softmax cross-entropy over the given samples, leaving its
    /// gradient w.r.t. every parameter in `gradients`. Used by gradient
    /// checks and by callers that want raw gradients instead of a step.
    /// - Throws: `ModelError.featureCountMismatch` for a dataset of another width.
    @discardableResult
    public func computeGradients(on dataset: Dataset, indices: [Int]) throws(ModelError) -> Float {
        try checkFeatures(dataset)
        let batch = indices.count
        reserve(batch: batch, backward: true)
        gather(dataset, indices: indices[...])
        forward(batch: batch)
        let outcome = SoftmaxCrossEntropy.evaluate(
            logits: activations[layers.count - 1].pointer, labels: batchLabels.pointer, batch: batch,
            classes: spec.classCount, gradient: activationGradients[layers.count - 1].pointer, predictions: nil)
        backward(batch: batch, target: GradientTarget(base: gradientStorage, alpha: 1, beta: 0))
        return outcome.lossSum / Float(batch)
    }

    func checkFeatures(_ dataset: Dataset) throws(ModelError) {
        guard dataset.featureCount == spec.inputSize else {
            throw .featureCountMismatch(model: spec.inputSize, dataset: dataset.featureCount)
        }
    }
}
