/// Stand-alone ReLU, used when a ReLU follows a layer it cannot be fused into.
final class ReLULayer: Layer {
    let inputSize: Int
    var outputSize: Int { inputSize }
    let parameterOffset: Int
    let parameterCount = 0

    init(size: Int, parameterOffset: Int) {
        inputSize = size
        self.parameterOffset = parameterOffset
    }

    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {}

    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        for i in 0..<(batch * inputSize) { output[i] = max(input[i], 0) }
    }

    func backward(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>, target: GradientTarget
    ) {
        mask(outputGradient, into: inputGradient, output: output, batch: batch)
    }

    private func mask(_ outputGradient: UnsafePointer<Float>, into inputGradient: UnsafeMutablePointer<Float>?, output: UnsafePointer<Float>, batch: Int) {
        guard let inputGradient else { return }
        for i in 0..<(batch * inputSize) { inputGradient[i] = output[i] > 0 ? outputGradient[i] : 0 }
    }

    let clipsExamplesInBatch = true

    /// No parameters: only the mask, as `backward`.
    func accumulateExampleNorms(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>,
        squaredNorms: UnsafeMutablePointer<Float>
    ) {
        mask(outputGradient, into: inputGradient, output: output, batch: batch)
    }
}
