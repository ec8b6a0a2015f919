import Learning
import Testing

/// DP-SGD (`Network.trainPrivately`), the training behind record-level local DP: each
/// example's gradient clipped alone, Poisson batches, the noise on each step's sum, and the
/// sum divided by the expected batch size.
struct PrivateTrainingTests {
    /// Batched clipping on: a dense model (70 examples: two clipping chunks), the same with
    /// 80% zero inputs (the first layer's sparse kernels), three convolutional ones (a fused
    /// and a separate ReLU, pooling on either side of it, channel-major activations between
    /// two convolutions, 70 examples), and the McMahan CNN itself, whose second convolution
    /// unfolds 6 examples at a time, so 14 examples take three of its chunks. One example at
    /// a time on a convolutional model, the comparison path.
    /// `.automatic` on two of them: it clips its first chunk of 16 or more as a batch while
    /// timing the other way, then goes on the faster, so its sum is right either way.
    static let cases: [(ModelSpec, Int, Double, ExampleClipping)] = [
        (GradientCheckTests.specs[1], 70, 0, .batched), (GradientCheckTests.sparseInput, 9, 0.8, .batched),
        (GradientCheckTests.specs[2], 70, 0, .batched), (GradientCheckTests.specs[3], 70, 0, .batched),
        (GradientCheckTests.specs[4], 70, 0, .batched), (.cnn, 14, 0, .batched),
        (GradientCheckTests.specs[2], 8, 0, .oneByOne),
        (GradientCheckTests.specs[4], 70, 0, .automatic), (GradientCheckTests.specs[1], 70, 0, .automatic),
    ]

    /// One step at sampling rate 1 without noise moves the parameters by −lr/n · Σ clip(gᵢ),
    /// each gᵢ the gradient of one example computed on its own: checked against
    /// `computeGradients` example by example.
    @Test(arguments: cases)
    func aStepIsTheMeanOfClippedPerExampleGradients(
        spec: ModelSpec, examples: Int, zeroFraction: Double, clipping: ExampleClipping
    ) throws {
        let data = Fixtures.randomDataset(
            count: examples, features: spec.inputSize, classes: spec.classCount, seed: 11, zeroFraction: zeroFraction)
        let reference = Network(spec: spec, seed: 5)
        let start = reference.parameters
        var perExample: [[Float]] = []
        for index in 0..<data.count {
            try reference.computeGradients(on: data, indices: [index])
            perExample.append(reference.gradients)
        }
        let norms = perExample.map { $0.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        // A clip between the smallest and the largest norm: some examples are clipped, some not.
        let clip = norms.sorted()[data.count / 2]
        #expect(norms.contains { $0 > clip * 1.01 } && norms.contains { $0 < clip * 0.99 })
        var expected = start
        for (gradient, norm) in zip(perExample, norms) {
            let scale = Float(norm > clip ? clip / norm : 1)
            for i in expected.indices { expected[i] -= 0.1 / Float(data.count) * scale * gradient[i] }
        }

        let network = Network(spec: spec, seed: 5)
        var sampler = SeededGenerator(seed: 1)
        var noiseCalls = 0
        let summary = try network.trainPrivately(
            on: data, indices: Array(0..<data.count), steps: 1, samplingRate: 1, clipNorm: Float(clip),
            optimizer: try SGD(learningRate: 0.1), sampler: &sampler, clipping: clipping
        ) { sum in
            noiseCalls += 1
            #expect(sum.count == spec.parameterCount)
        }
        #expect(noiseCalls == 1 && summary.steps == 1 && summary.samples == data.count)
        let worst = zip(network.parameters, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-5, "largest difference \(worst)")
    }

    /// The noise lands on the sum before the division, whatever the drawn batch: with the
    /// gradients clipped to nothing, noise of 1 on every sum moves every parameter by −lr/d
    /// per step, d the expected batch q·n (0.5 × 10), or the divisor a caller that keeps the
    /// row count private gives (20, whatever the rows).
    @Test(arguments: [(nil, 5), (20, 20)] as [(Double?, Float)])
    func theNoiseIsDividedByTheExpectedBatchOrTheGivenDivisor(stepDivisor: Double?, divisor: Float) throws {
        let spec = GradientCheckTests.specs[0]
        let data = Fixtures.randomDataset(count: 10, features: spec.inputSize, classes: spec.classCount, seed: 3)
        let network = Network(spec: spec, seed: 2)
        let start = network.parameters
        var sampler = SeededGenerator(seed: 9)
        let summary = try network.trainPrivately(
            on: data, indices: Array(0..<10), steps: 3, samplingRate: 0.5, clipNorm: 1e-30, optimizer: try SGD(learningRate: 0.1),
            sampler: &sampler, stepDivisor: stepDivisor
        ) { sum in
            for i in sum.indices { sum[i] += 1 }
        }
        #expect(summary.steps == 3)
        // −3 steps × 0.1 × 1 / d on every parameter.
        for (after, before) in zip(network.parameters, start) { #expect(abs((before - after) - 0.3 / divisor) < 1e-5) }
    }

    /// Each example joins a step with probability q, independently: over 20 steps of 400
    /// examples at q = 0.25 the batches hold 2,000 in expectation (σ ≈ 39).
    @Test func batchesArePoissonSamples() throws {
        let spec = GradientCheckTests.specs[0]
        let data = Fixtures.randomDataset(count: 400, features: spec.inputSize, classes: spec.classCount, seed: 4)
        let network = Network(spec: spec, seed: 2)
        var sampler = SeededGenerator(seed: 21)
        let summary = try network.trainPrivately(
            on: data, indices: Array(0..<400), steps: 20, samplingRate: 0.25, clipNorm: 1, optimizer: try SGD(learningRate: 0.01),
            sampler: &sampler
        ) { _ in }
        #expect(summary.steps == 20)
        #expect((1_800...2_200).contains(summary.samples), "\(summary.samples) examples in 20 steps")
        #expect(summary.meanLoss.isFinite && summary.meanLoss > 0)
    }

    /// `.automatic` times the two ways once per network, on the first chunk of at least
    /// `ClippingChoice.minimumExamples`, and keeps the faster; a smaller chunk, or a forced
    /// way, measures nothing. The rule itself: one at a time only when strictly faster.
    @Test func automaticClippingMeasuresOnceOnAChunkLargeEnough() throws {
        let spec = GradientCheckTests.specs[4]
        let data = Fixtures.randomDataset(count: 40, features: spec.inputSize, classes: spec.classCount, seed: 6)
        var sampler = SeededGenerator(seed: 3)
        func train(_ network: Network, examples: Int, clipping: ExampleClipping) throws {
            try network.trainPrivately(
                on: data, indices: Array(0..<examples), steps: 1, samplingRate: 1, clipNorm: 1,
                optimizer: try SGD(learningRate: 0.1), sampler: &sampler, clipping: clipping) { _ in }
        }
        let small = Network(spec: spec, seed: 1)
        try train(small, examples: ClippingChoice.minimumExamples - 1, clipping: .automatic)
        #expect(small.measuredClipping == nil)
        let forced = Network(spec: spec, seed: 1)
        try train(forced, examples: 40, clipping: .batched)
        #expect(forced.measuredClipping == nil)
        let measured = Network(spec: spec, seed: 1)
        try train(measured, examples: 40, clipping: .automatic)
        let way = try #require(measured.measuredClipping)
        #expect(way == .batched || way == .oneByOne)

        #expect(ClippingChoice(batched: .milliseconds(3), oneByOne: .milliseconds(2)).way == .oneByOne)
        #expect(ClippingChoice(batched: .milliseconds(2), oneByOne: .milliseconds(3)).way == .batched)
        #expect(ClippingChoice(batched: .milliseconds(2), oneByOne: .milliseconds(2)).way == .batched)
    }

    @Test func settingsOutsideTheirRangeAreRefused() throws {
        let spec = GradientCheckTests.specs[0]
        let data = Fixtures.randomDataset(count: 4, features: spec.inputSize, classes: spec.classCount, seed: 4)
        let network = Network(spec: spec, seed: 2)
        var sampler = SeededGenerator(seed: 1)
        for (steps, rate, clip, indices) in [(0, 0.5, Float(1), [0]), (1, 0, 1, [0]), (1, 1.5, 1, [0]), (1, 0.5, 0, [0]), (1, 0.5, 1, [7])] {
            #expect(throws: ModelError.self) {
                try network.trainPrivately(
                    on: data, indices: indices, steps: steps, samplingRate: rate, clipNorm: clip, optimizer: try SGD(learningRate: 0.1),
                    sampler: &sampler) { _ in }
            }
        }
        for divisor in [0, -1, .infinity] as [Double] {
            #expect(throws: ModelError.self) {
                try network.trainPrivately(
                    on: data, indices: [0], steps: 1, samplingRate: 0.5, clipNorm: 1, optimizer: try SGD(learningRate: 0.1),
                    sampler: &sampler, stepDivisor: divisor) { _ in }
            }
        }
    }
}
