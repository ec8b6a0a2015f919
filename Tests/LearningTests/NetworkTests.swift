import Learning
import Testing

struct NetworkTests {
    @Test func builtInSpecsHaveThePapersParameterCounts() {
        #expect(ModelSpec.mlp.parameterCount == 199_210)
        #expect(ModelSpec.cnn.parameterCount == 1_663_370)
        #expect(Network(spec: .mlp, seed: 1).parameters.count == 199_210)
        #expect(ModelSpec.mlp.hash != ModelSpec.cnn.hash)
    }

    @Test func specHashIsFNV1aOfTheCanonicalDescription() throws {
        var expected: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in ModelSpec.mlp.canonicalDescription.utf8 {
            expected = (expected ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        #expect(ModelSpec.mlp.hash == expected)
        let rebuilt = try ModelSpec(name: "mlp", inputSize: 784, classCount: 10, layers: ModelSpec.mlp.layers)
        #expect(rebuilt.hash == ModelSpec.mlp.hash)
    }

    @Test func mismatchedShapesAreRejected() {
        #expect(throws: ModelError.self) {
            try ModelSpec(name: "bad", inputSize: 10, classCount: 2, layers: [.dense(inputs: 9, outputs: 2)])
        }
        #expect(throws: ModelError.unknownArchitecture("resnet", known: ["cnn", "mlp", "synthetic:P"])) { try ModelSpec.named("resnet") }
    }

    @Test func sameSeedGivesSameParametersAndTraining() throws {
        let data = Fixtures.randomDataset(count: 64, features: 784, classes: 10, seed: 1)
        let optimizer = try SGD(learningRate: 0.05, momentum: 0.9)
        var runs: [[Float]] = []
        for _ in 0..<2 {
            let network = Network(spec: .mlp, seed: 42)
            var generator = SeededGenerator(seed: 9)
            try network.train(on: data, epochs: 2, batchSize: 10, optimizer: optimizer, generator: &generator)
            runs.append(network.parameters)
        }
        #expect(runs[0] == runs[1])
        #expect(Network(spec: .mlp, seed: 42).parameters != Network(spec: .mlp, seed: 43).parameters)
    }

    @Test func updateForAnotherSpecIsRejected() throws {
        let network = Network(spec: .mlp, seed: 1)
        let foreign = ModelUpdate(specHash: ModelSpec.cnn.hash, delta: Array(repeating: 0, count: ModelSpec.mlp.parameterCount))
        #expect(throws: ModelError.specMismatch(expected: ModelSpec.mlp.hash, expectedName: "mlp", received: ModelSpec.cnn.hash)) {
            try network.apply(foreign)
        }
        let short = ModelUpdate(specHash: ModelSpec.mlp.hash, delta: [1, 2, 3])
        #expect(throws: ModelError.parameterCountMismatch(expected: 199_210, received: 3)) { try network.apply(short) }
        #expect(throws: ModelError.parameterCountMismatch(expected: 199_210, received: 2)) { try network.load(parameters: [0, 0]) }
    }

    @Test func updateIsTrainedMinusBaseAndAppliesBack() throws {
        let data = Fixtures.randomDataset(count: 30, features: 784, classes: 10, seed: 2)
        let network = Network(spec: .mlp, seed: 1)
        let base = network.parameters
        var generator = SeededGenerator(seed: 1)
        let summary = try network.train(on: data, indices: Array(0..<25), epochs: 1, batchSize: 10, optimizer: SGD(learningRate: 0.1), generator: &generator)
        #expect(summary.steps == 3)
        #expect(summary.samples == 25)
        let trained = network.parameters
        let update = try network.update(from: base)
        #expect(update.specHash == ModelSpec.mlp.hash)
        try network.load(parameters: base)
        try network.apply(update)
        let difference = zip(trained, network.parameters).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-6)
    }

    /// Three Gaussian blobs far apart: a small MLP must separate them fully.
    @Test func learnsASeparableProblemTo100Percent() throws {
        var generator = SeededGenerator(seed: 5)
        let centres: [[Double]] = [[4, 0, 0, 0], [0, 4, 0, 0], [0, 0, 4, -4]]
        var features: [Float] = []
        var labels: [Int] = []
        for i in 0..<300 {
            let label = i % 3
            features += centres[label].map { Float($0 + 0.5 * generator.nextGaussian()) }
            labels.append(label)
        }
        let data = try Dataset(features: features, labels: labels, featureCount: 4, classCount: 3)
        let spec = try ModelSpec(
            name: "blobs", inputSize: 4, classCount: 3, layers: [.dense(inputs: 4, outputs: 16), .relu, .dense(inputs: 16, outputs: 3)])
        let network = Network(spec: spec, seed: 1)
        try network.train(on: data, epochs: 20, batchSize: 10, optimizer: SGD(learningRate: 0.1), generator: &generator)
        let evaluation = try network.evaluate(on: data)
        #expect(evaluation.accuracy == 1.0)
        #expect(evaluation.macroF1 == 1.0)
        #expect(evaluation.loss < 0.05)
    }

    @Test func datasetOfAnotherWidthIsRejected() throws {
        let network = Network(spec: .mlp, seed: 1)
        let data = Fixtures.randomDataset(count: 3, features: 5, classes: 2, seed: 1)
        #expect(throws: ModelError.featureCountMismatch(model: 784, dataset: 5)) { try network.evaluate(on: data) }
    }
}

@Suite struct SyntheticModelTests {
    @Test func syntheticModelsHaveExactlyTheParametersAsked() throws {
        #expect(try ModelSpec.named("synthetic:199210").parameterCount == 199_210)
        #expect(try ModelSpec.synthetic(parameters: 2).parameterCount == 2)
        #expect(throws: ModelError.self) { try ModelSpec.synthetic(parameters: 1) }
        #expect(throws: ModelError.self) { try ModelSpec.named("synthetic:lots") }
        #expect(try ModelSpec.named("synthetic:1000").hash != ModelSpec.named("synthetic:1001").hash)
    }
}
