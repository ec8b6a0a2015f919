import CBLAS

/// How DP-SGD forms each example's clipped gradient (`Network.trainPrivately`). Both ways give
/// the same sum; which is faster depends on the model. A batch at once costs about five
/// passes (forward, a norms pass, the full backward pass) at the batch's GEMM efficiency;
/// one example at a time costs three at batch 1's. For the mlp and the McMahan cnn, batch 1
/// runs at a quarter of a batch's speed or less, so the batch wins (2-3×); for a small CNN
/// whose per-example GEMMs are already wide, one at a time wins (BENCHMARKS.md, "What DP-SGD
/// costs in time").
public enum ExampleClipping: String, Sendable, CaseIterable {
    /// The faster of the two for this model, timed once per `Network` on a chunk of
    /// `ClippingChoice.minimumExamples` or more (a batch until then); one at a time when a
    /// layer cannot clip in batch.
    case automatic
    /// A whole batch at once (every layer of today allows it; one at a time otherwise).
    case batched
    /// One example at a time, its gradient formed whole: any layer.
    case oneByOne = "one-by-one"
}

/// `.automatic`'s decision from its one measurement: the way that took less time for the same
/// examples. A value, so the rule is tested without a clock.
public struct ClippingChoice: Sendable, Equatable {
    /// A chunk smaller than this is not timed: a few examples take microseconds either way,
    /// and the machine's noise would decide.
    public static let minimumExamples = 16

    public var batched: Duration
    public var oneByOne: Duration

    public init(batched: Duration, oneByOne: Duration) {
        self.batched = batched
        self.oneByOne = oneByOne
    }

    /// One at a time only when it was faster; a tie keeps the batch.
    public var way: ExampleClipping { oneByOne < batched ? .oneByOne : .batched }
}

extension Network {
    /// DP-SGD (Abadi et al. 2016), the training behind record-level local differential
    /// privacy: `steps` steps, each on a Poisson sample of `indices` (every sample taken with
    /// probability `samplingRate`, so a batch's size varies and may be 0), with every
    /// example's gradient clipped to L2 norm `clipNorm`, the clipped gradients summed, `noise`
    /// added to the sum (the caller's N(0, (σC)²) per parameter), and the sum divided by the
    /// expected batch size before the optimiser's step. Dividing by the expected size rather
    /// than the drawn one keeps the batch's size out of the update.
    ///
    /// Every layer of today can clip a whole batch at once (`clipBatch`); a layer that cannot
    /// makes the model take one example at a time (`clipOneByOne`). Both give the same sum;
    /// `.automatic` times both once and keeps the faster (`ExampleClipping`).
    ///
    /// - Parameters:
    ///   - sampler: draws the Poisson samples. Its output must stay secret (the kernel's
    ///     CSPRNG in production): the guarantee's amplification rests on nobody knowing which
    ///     records a step used.
    ///   - noise: adds the Gaussian noise to the step's clipped sum, in place.
    ///   - stepDivisor: what each step's noisy sum is divided by; nil for the expected batch,
    ///     q·|indices|. A caller that keeps the row count private passes a constant (the
    ///     batch size it was configured with), since q·|indices| would scale every update by it.
    ///   - clipping: `.automatic` but for benchmarks, which compare the two ways.
    /// - Throws: `ModelError` for a dataset of another width, an index out of range, or a
    ///   setting that is not positive (or a rate above 1).
    @discardableResult
    public func trainPrivately(
        on dataset: Dataset, indices: [Int], steps: Int, samplingRate: Double, clipNorm: Float, optimizer: SGD,
        sampler: inout some RandomNumberGenerator, stepDivisor: Double? = nil, clipping: ExampleClipping = .automatic,
        noise: (UnsafeMutableBufferPointer<Float>) -> Void
    ) throws(ModelError) -> TrainingSummary {
        try checkFeatures(dataset)
        guard steps > 0, samplingRate > 0, samplingRate <= 1, clipNorm > 0, clipNorm.isFinite else {
            throw .invalidTrainingSetting(
                "DP-SGD needs positive steps and clip norm and a sampling rate in (0, 1], got \(steps), \(clipNorm) and \(samplingRate)")
        }
        if let stepDivisor, !(stepDivisor > 0 && stepDivisor.isFinite) {
            throw .invalidTrainingSetting("DP-SGD's step divisor must be a positive number, got \(stepDivisor)")
        }
        guard indices.allSatisfy({ $0 >= 0 && $0 < dataset.count }) else {
            throw .invalidTrainingSetting("a sample index is outside 0..<\(dataset.count)")
        }
        var summary = TrainingSummary(steps: 0, samples: 0, meanLoss: 0, accuracy: 0)
        guard !indices.isEmpty else { return summary }
        let count = spec.parameterCount
        let batchable = layers.allSatisfy(\.clipsExamplesInBatch)
        var way: ExampleClipping = switch clipping {
        case _ where !batchable, .oneByOne: .oneByOne
        case .batched: .batched
        case .automatic: measuredClipping ?? .automatic
        }
        let chunk = Self.chunk(way)
        reserve(batch: chunk, backward: true)
        clippedSum.reserve(count)
        exampleGradients.reserve(chunk * spec.classCount)
        exampleNorms.reserve(chunk)
        let sum = clippedSum.pointer
        let divisor = Float(stepDivisor ?? samplingRate * Double(indices.count))
        // The probability as a 53-bit threshold: a sample is taken when a draw falls below it.
        let threshold = UInt64(samplingRate * 0x1p53)
        var lossSum = 0.0
        var correct = 0
        var drawn: [Int] = []
        drawn.reserveCapacity(indices.count)
        for _ in 0..<steps {
            drawn.removeAll(keepingCapacity: true)
            for index in indices where samplingRate == 1 || sampler.next() >> 11 < threshold { drawn.append(index) }
            sum.initialize(repeating: 0, count: count)
            var start = 0
            while start < drawn.count {
                // Unmeasured `.automatic` reads chunks as a batch would, and times the first one
                // large enough; the way may change after it, within a step.
                let end = min(start + Self.chunk(way), drawn.count)
                gather(dataset, indices: drawn[start..<end])
                let outcome: SoftmaxCrossEntropy.Outcome
                switch way {
                case .oneByOne: outcome = clipOneByOne(clipNorm: clipNorm, into: sum)
                case .batched: outcome = clipBatch(end - start, clipNorm: clipNorm, into: sum)
                case .automatic:
                    if end - start >= ClippingChoice.minimumExamples {
                        (outcome, way) = measureClipping(dataset, examples: drawn[start..<end], clipNorm: clipNorm, into: sum)
                        measuredClipping = way
                    } else {
                        outcome = clipBatch(end - start, clipNorm: clipNorm, into: sum)
                    }
                }
                lossSum += Double(outcome.lossSum)
                correct += outcome.correct
                start = end
            }
            summary.samples += drawn.count
            noise(UnsafeMutableBufferPointer(start: sum, count: count))
            cblas_sscal(Int32(count), 1 / divisor, sum, 1)
            apply(optimizer, gradients: sum)
            summary.steps += 1
        }
        if summary.samples > 0 {
            summary.meanLoss = lossSum / Double(summary.samples)
            summary.accuracy = Double(correct) / Double(summary.samples)
        }
        return summary
    }

    /// Examples clipped together when every layer allows it: large enough for the GEMMs,
    /// small enough that a chunk's activations stay in cache.
    static let clippingChunk = 64

    /// Examples read into the batch buffers at once: one for `.oneByOne`, a chunk otherwise.
    private static func chunk(_ way: ExampleClipping) -> Int { way == .oneByOne ? 1 : clippingChunk }

    /// Adds the clipped gradients of the `batch` examples in the batch buffers to `sum`, from
    /// two passes over the batch: one for each example's gradient norm (each layer's
    /// `accumulateExampleNorms`), then the ordinary backward pass with each example's loss
    /// gradient scaled by its clip factor, which, backward being linear in it, sums the
    /// clipped gradients (Goodfellow 2015; Lee and Kifer 2021).
    private func clipBatch(_ batch: Int, clipNorm: Float, into sum: UnsafeMutablePointer<Float>) -> SoftmaxCrossEntropy.Outcome {
        forward(batch: batch)
        let last = layers.count - 1
        let classes = spec.classCount
        let top = activationGradients[last].pointer
        let outcome = SoftmaxCrossEntropy.evaluate(
            logits: activations[last].pointer, labels: batchLabels.pointer, batch: batch, classes: classes,
            gradient: top, predictions: nil)
        // The gradient of the mean loss, times the batch: each example's own.
        cblas_sscal(Int32(batch * classes), Float(batch), top, 1)
        let kept = exampleGradients.pointer
        kept.update(from: top, count: batch * classes)
        let norms = exampleNorms.pointer
        norms.initialize(repeating: 0, count: batch)
        for index in layers.indices.reversed() {
            layers[index].accumulateExampleNorms(
                input: index == 0 ? batchInput.pointer : activations[index - 1].pointer, output: activations[index].pointer,
                outputGradient: activationGradients[index].pointer,
                inputGradient: index == 0 ? nil : activationGradients[index - 1].pointer, batch: batch,
                parameters: parameterStorage, squaredNorms: norms)
        }
        for row in 0..<batch {
            let norm = norms[row].squareRoot()
            let scale = norm > clipNorm ? clipNorm / norm : 1
            for c in 0..<classes { top[row * classes + c] = kept[row * classes + c] * scale }
        }
        backward(batch: batch, target: GradientTarget(base: sum, alpha: 1, beta: 1))
        return outcome
    }

    /// `.automatic`'s one measurement: the chunk in the batch buffers (`examples`) clipped as a
    /// batch into `sum`, then the same examples one at a time into a scratch sum that is
    /// dropped, each timed. Returns the batch's outcome and the faster way.
    private func measureClipping(
        _ dataset: Dataset, examples: ArraySlice<Int>, clipNorm: Float, into sum: UnsafeMutablePointer<Float>
    ) -> (SoftmaxCrossEntropy.Outcome, ExampleClipping) {
        let clock = ContinuousClock()
        var outcome = SoftmaxCrossEntropy.Outcome(lossSum: 0, correct: 0)
        let batched = clock.measure { outcome = clipBatch(examples.count, clipNorm: clipNorm, into: sum) }
        var scratch = [Float](repeating: 0, count: spec.parameterCount)
        let oneByOne = scratch.withUnsafeMutableBufferPointer { scratch in
            clock.measure {
                for index in examples.indices {
                    gather(dataset, indices: examples[index..<(index + 1)])
                    _ = clipOneByOne(clipNorm: clipNorm, into: scratch.baseAddress!)
                }
            }
        }
        return (outcome, ClippingChoice(batched: batched, oneByOne: oneByOne).way)
    }

    /// `clipBatch` for any layer: the one example in the batch buffers, its gradient formed
    /// whole by a backward pass of batch 1, measured, scaled and added.
    private func clipOneByOne(clipNorm: Float, into sum: UnsafeMutablePointer<Float>) -> SoftmaxCrossEntropy.Outcome {
        let count = spec.parameterCount
        forward(batch: 1)
        let outcome = SoftmaxCrossEntropy.evaluate(
            logits: activations[layers.count - 1].pointer, labels: batchLabels.pointer, batch: 1,
            classes: spec.classCount, gradient: activationGradients[layers.count - 1].pointer, predictions: nil)
        backward(batch: 1, target: GradientTarget(base: gradientStorage, alpha: 1, beta: 0))
        let norm = cblas_snrm2(Int32(count), gradientStorage, 1)
        let scale = norm > clipNorm ? clipNorm / norm : 1
        cblas_saxpy(Int32(count), scale, gradientStorage, 1, sum, 1)
        return outcome
    }
}
