import Learning
import Testing

/// A first dense layer skips zero inputs; its results must equal the GEMM
/// path's, which runs when the inputs are not zero (here: 1e-20 instead).
struct SparseInputTests {
    @Test(arguments: [4, 8, 72, 200])
    func sparseKernelsMatchDenseGEMM(outputs: Int) throws {
        let spec = try ModelSpec(
            name: "sparse", inputSize: 30, classCount: 3,
            layers: [.dense(inputs: 30, outputs: outputs), .relu, .dense(inputs: outputs, outputs: 3)])
        let sparse = Fixtures.randomDataset(count: 12, features: 30, classes: 3, seed: 4, zeroFraction: 0.85)
        let dense = try Dataset(
            features: sparse.features.map { $0 == 0 ? 1e-20 : $0 }, labels: sparse.labels, featureCount: 30, classCount: 3)
        let network = Network(spec: spec, seed: 2)
        let sparseLoss = try network.computeGradients(on: sparse, indices: Array(0..<12))
        let sparseGradients = network.gradients
        let denseLoss = try network.computeGradients(on: dense, indices: Array(0..<12))
        let denseGradients = network.gradients
        #expect(abs(sparseLoss - denseLoss) < 1e-5)
        let difference = zip(sparseGradients, denseGradients).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-5, "max gradient difference \(difference)")
    }
}
