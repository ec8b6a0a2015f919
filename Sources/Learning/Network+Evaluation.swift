extension Network {
    /// Loss, accuracy and the confusion matrix over `dataset` (or the
    /// samples at `indices`), in forward-only batches of `batchSize`.
    /// - Throws: `ModelError.featureCountMismatch` for a dataset of another width.
    public func evaluate(on dataset: Dataset, indices: [Int]? = nil, batchSize: Int = 250) throws(ModelError) -> Evaluation {
        try checkFeatures(dataset)
        let batchSize = max(batchSize, 1)
        reserve(batch: batchSize, backward: false)
        var confusion = ConfusionMatrix(classCount: spec.classCount)
        var lossSum = 0.0
        let all = indices ?? Array(0..<dataset.count)
        var start = 0
        while start < all.count {
            let end = min(start + batchSize, all.count)
            let batch = end - start
            gather(dataset, indices: all[start..<end])
            forward(batch: batch)
            let outcome = SoftmaxCrossEntropy.evaluate(
                logits: activations[layers.count - 1].pointer, labels: batchLabels.pointer, batch: batch,
                classes: spec.classCount, gradient: nil, predictions: batchPredictions.pointer)
            lossSum += Double(outcome.lossSum)
            for row in 0..<batch {
                confusion.record(actual: Int(batchLabels.pointer[row]), predicted: Int(batchPredictions.pointer[row]))
            }
            start = end
        }
        return Evaluation(loss: all.isEmpty ? 0 : lossSum / Double(all.count), confusion: confusion)
    }
}
