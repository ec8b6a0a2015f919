import CBLAS

extension Network {
    /// DP-SGD (Abadi et al. 2016), the training behind record-level local differential
    /// privacy: `steps` steps, each on a Poisson sample of `indices` (every sample taken with
    /// probability `samplingRate`, so a batch's size varies and may be 0), with every
    /// example's gradient clipped to L2 norm `clipNorm`, the clipped gradients summed, `noise`
    /// added to the sum (the caller's N(0, (σC)²) per parameter), and the sum divided by the
    /// expected batch size before the optimiser's step. Dividing by the expected size rather
    /// than the drawn one keeps the batch's size out of the update.
    ///
    /// Each example's gradient is computed alone, by a forward and backward pass of batch 1:
    /// it works for every layer (convolutions too) and costs about as much as ordinary SGD
    /// on a dense model whose weights stay in cache; a per-layer norm trick for dense layers
    /// would save the repeated weight writes and is not done.
    ///
    /// - Parameters:
    ///   - sampler: draws the Poisson samples. Its output must stay secret (the kernel's
    ///     CSPRNG in production): the guarantee's amplification rests on nobody knowing which
    ///     records a step used.
    ///   - noise: adds the Gaussian noise to the step's clipped sum, in place.
    /// - Throws: `ModelError` for a dataset of another width, an index out of range, or a
    ///   setting that is not positive (or a rate above 1).
    @discardableResult
    public func trainPrivately(
        on dataset: Dataset, indices: [Int], steps: Int, samplingRate: Double, clipNorm: Float, optimizer: SGD,
        sampler: inout some RandomNumberGenerator, noise: (UnsafeMutableBufferPointer<Float>) -> Void
    ) throws(ModelError) -> TrainingSummary {
        try checkFeatures(dataset)
        guard steps > 0, samplingRate > 0, samplingRate <= 1, clipNorm > 0, clipNorm.isFinite else {
            throw .invalidTrainingSetting(
                "DP-SGD needs positive steps and clip norm and a sampling rate in (0, 1], got \(steps), \(clipNorm) and \(samplingRate)")
        }
        guard indices.allSatisfy({ $0 >= 0 && $0 < dataset.count }) else {
            throw .invalidTrainingSetting("a sample index is outside 0..<\(dataset.count)")
        }
        var summary = TrainingSummary(steps: 0, samples: 0, meanLoss: 0, accuracy: 0)
        guard !indices.isEmpty else { return summary }
        let count = spec.parameterCount
        reserve(batch: 1, backward: true)
        clippedSum.reserve(count)
        let sum = clippedSum.pointer
        let expectedBatch = Float(samplingRate * Double(indices.count))
        // The probability as a 53-bit threshold: a sample is taken when a draw falls below it.
        let threshold = UInt64(samplingRate * 0x1p53)
        var lossSum = 0.0
        var correct = 0
        var sample = [0]
        for _ in 0..<steps {
            sum.initialize(repeating: 0, count: count)
            for index in indices where samplingRate == 1 || sampler.next() >> 11 < threshold {
                sample[0] = index
                gather(dataset, indices: sample[...])
                forward(batch: 1)
                let outcome = SoftmaxCrossEntropy.evaluate(
                    logits: activations[layers.count - 1].pointer, labels: batchLabels.pointer, batch: 1,
                    classes: spec.classCount, gradient: activationGradients[layers.count - 1].pointer, predictions: nil)
                lossSum += Double(outcome.lossSum)
                correct += outcome.correct
                summary.samples += 1
                backward(batch: 1, target: GradientTarget(base: gradientStorage, alpha: 1, beta: 0))
                let norm = cblas_snrm2(Int32(count), gradientStorage, 1)
                let scale = norm > clipNorm ? clipNorm / norm : 1
                cblas_saxpy(Int32(count), scale, gradientStorage, 1, sum, 1)
            }
            noise(UnsafeMutableBufferPointer(start: sum, count: count))
            cblas_sscal(Int32(count), 1 / expectedBatch, sum, 1)
            apply(optimizer, gradients: sum)
            summary.steps += 1
        }
        if summary.samples > 0 {
            summary.meanLoss = lossSum / Double(summary.samples)
            summary.accuracy = Double(correct) / Double(summary.samples)
        }
        return summary
    }
}
