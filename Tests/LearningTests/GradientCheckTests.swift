import Learning
import Testing

/// Finite-difference checks of every layer's backward pass, through the
/// softmax cross-entropy loss; parameter-free layers (ReLU, pooling) are
/// checked through the parameters of the layers before them.
struct GradientCheckTests {
    static let specs: [ModelSpec] = [
        try! ModelSpec(name: "dense", inputSize: 6, classCount: 4, layers: [.dense(inputs: 6, outputs: 4)]),
        try! ModelSpec(
            name: "dense-relu", inputSize: 6, classCount: 3,
            layers: [.dense(inputs: 6, outputs: 8), .relu, .dense(inputs: 8, outputs: 3)]),
        try! ModelSpec(
            name: "conv-relu-pool", inputSize: 2 * 6 * 6, classCount: 3,
            layers: [
                .conv2d(channels: 2, filters: 3, kernel: 3, height: 6, width: 6), .relu,
                .maxPool2(channels: 3, height: 6, width: 6), .dense(inputs: 27, outputs: 3),
            ]),
        try! ModelSpec(
            name: "conv5-pool-relu", inputSize: 8 * 8, classCount: 3,
            layers: [
                .conv2d(channels: 1, filters: 2, kernel: 5, height: 8, width: 8),
                .maxPool2(channels: 2, height: 8, width: 8), .relu,
                .conv2d(channels: 2, filters: 2, kernel: 3, height: 4, width: 4), .relu,
                .dense(inputs: 32, outputs: 3),
            ]),
        // The McMahan CNN's structure in miniature, written as a user would: two
        // convolutions with channel-major activations between them, pooled twice.
        try! ModelSpec.parse(
            layers: "conv2d:3:3,relu,maxpool2,conv2d:2:3,relu,maxpool2,dense:3",
            input: .image(channels: 2, height: 8, width: 8), classCount: 3),
    ]

    /// Each spec with dense inputs, and the dense ones also with 80% zero
    /// inputs, which takes the first layer's sparse kernels.
    static let cases: [(ModelSpec, Double)] = specs.map { ($0, 0) } + [(sparseInput, 0.8)]

    /// Wide enough that no sample is all zeros (a ReLU exactly at its kink
    /// has no derivative for the check to compare).
    static let sparseInput = try! ModelSpec(
        name: "sparse-dense-relu", inputSize: 30, classCount: 3,
        layers: [.dense(inputs: 30, outputs: 8), .relu, .dense(inputs: 8, outputs: 3)])

    @Test(arguments: cases)
    func analyticGradientsMatchFiniteDifferences(spec: ModelSpec, zeroFraction: Double) throws {
        let data = Fixtures.randomDataset(
            count: 5, features: spec.inputSize, classes: spec.classCount, seed: 7, zeroFraction: zeroFraction)
        let network = Network(spec: spec, seed: 3)
        let indices = Array(0..<data.count)
        try network.computeGradients(on: data, indices: indices)
        let analytic = network.gradients
        let base = network.parameters
        func numericDerivative(_ i: Int, epsilon: Float) throws -> Double {
            var plus = base
            plus[i] += epsilon
            try network.load(parameters: plus)
            let lossPlus = try network.computeGradients(on: data, indices: indices)
            var minus = base
            minus[i] -= epsilon
            try network.load(parameters: minus)
            let lossMinus = try network.computeGradients(on: data, indices: indices)
            return Double(lossPlus - lossMinus) / Double(2 * epsilon)
        }
        func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(1e-2, abs(a) + abs(b)) }
        // A perturbation that moves a ReLU or a max-pool across its kink makes
        // the central difference meaningless; two step sizes that disagree
        // reveal that, and such parameters are left out (they are few).
        var checked = 0
        var worst = 0.0
        for i in 0..<spec.parameterCount {
            let coarse = try numericDerivative(i, epsilon: 2e-3)
            let fine = try numericDerivative(i, epsilon: 1e-3)
            guard relativeError(coarse, fine) < 0.01 else { continue }
            checked += 1
            worst = max(worst, relativeError(fine, Double(analytic[i])))
        }
        #expect(worst < 0.03, "worst relative gradient error \(worst) for \(spec.name)")
        #expect(checked >= spec.parameterCount * 9 / 10, "only \(checked) of \(spec.parameterCount) parameters away from kinks")
        #expect(analytic.contains { $0 != 0 })
    }

    /// Plain SGD is fused into the backward GEMMs; it must equal
    /// `w - lr * (g + wd * w)` computed from explicit gradients.
    @Test(arguments: [Float(0), Float(0.01)], [0, 1, 2])
    func fusedSGDStepEqualsExplicitUpdate(weightDecay: Float, variant: Int) throws {
        // conv first; dense first with dense inputs; dense first with sparse inputs
        let spec = [Self.specs[2], Self.specs[1], Self.sparseInput][variant]
        let data = Fixtures.randomDataset(
            count: 4, features: spec.inputSize, classes: spec.classCount, seed: 11, zeroFraction: variant == 2 ? 0.8 : 0)
        let network = Network(spec: spec, seed: 5)
        let before = network.parameters
        try network.computeGradients(on: data, indices: [0, 1, 2, 3])
        let gradients = network.gradients
        var generator = SeededGenerator(seed: 1)
        let optimizer = try SGD(learningRate: 0.1, weightDecay: weightDecay)
        try network.train(on: data, epochs: 1, batchSize: 4, optimizer: optimizer, generator: &generator)
        let expected = zip(before, gradients).map { w, g in w - 0.1 * (g + weightDecay * w) }
        let difference = zip(expected, network.parameters).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-5)
    }

    @Test func momentumStepFollowsPyTorchRule() throws {
        let spec = Self.specs[1]
        let data = Fixtures.randomDataset(count: 3, features: spec.inputSize, classes: spec.classCount, seed: 12)
        let network = Network(spec: spec, seed: 6)
        let w0 = network.parameters
        let optimizer = try SGD(learningRate: 0.1, momentum: 0.9)
        var generator = SeededGenerator(seed: 1)
        try network.computeGradients(on: data, indices: [0, 1, 2])
        let g0 = network.gradients
        try network.train(on: data, epochs: 1, batchSize: 3, optimizer: optimizer, generator: &generator)
        let w1 = network.parameters
        try network.computeGradients(on: data, indices: [0, 1, 2])
        let g1 = network.gradients
        try network.train(on: data, epochs: 1, batchSize: 3, optimizer: optimizer, generator: &generator)
        // v1 = g0, v2 = 0.9 * g0 + g1
        let expected = (0..<w0.count).map { w1[$0] - 0.1 * (0.9 * g0[$0] + g1[$0]) }
        let difference = zip(expected, network.parameters).map { abs($0 - $1) }.max()!
        let firstStep = (0..<w0.count).map { abs(w0[$0] - 0.1 * g0[$0] - w1[$0]) }.max()!
        #expect(firstStep < 1e-6)
        #expect(difference < 1e-5)
    }
}
