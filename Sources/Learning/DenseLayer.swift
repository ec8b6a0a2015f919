import CBLAS

/// Fully connected layer, optionally with the following ReLU fused in (one
/// pass over the activations instead of two). Weights are `inputs x outputs`
/// row-major, so the forward pass is one `X * W` GEMM with no transposes.
final class DenseLayer: Layer {
    let inputSize: Int
    let outputSize: Int
    let parameterOffset: Int
    let fusedReLU: Bool
    var parameterCount: Int { inputSize * outputSize + outputSize }
    private var biasOffset: Int { parameterOffset + inputSize * outputSize }

    init(inputs: Int, outputs: Int, fusedReLU: Bool, parameterOffset: Int) {
        inputSize = inputs
        outputSize = outputs
        self.fusedReLU = fusedReLU
        self.parameterOffset = parameterOffset
    }

    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {
        Initialization.fill(
            parameters + parameterOffset, count: inputSize * outputSize, fanIn: inputSize, fanOut: outputSize,
            beforeReLU: fusedReLU, generator: &generator)
        (parameters + biasOffset).initialize(repeating: 0, count: outputSize)
    }

    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        let bias = parameters + biasOffset
        for row in 0..<batch {
            (output + row * outputSize).update(from: bias, count: outputSize)
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(outputSize), Int32(inputSize),
            1, input, Int32(inputSize), parameters + parameterOffset, Int32(outputSize), 1, output, Int32(outputSize))
        if fusedReLU {
            for i in 0..<(batch * outputSize) { output[i] = max(output[i], 0) }
        }
    }

    func backward(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>, target: GradientTarget
    ) {
        let n = Int32(outputSize)
        let k = Int32(inputSize)
        if fusedReLU {
            for i in 0..<(batch * outputSize) where output[i] <= 0 { outputGradient[i] = 0 }
        }
        if let inputGradient {
            // dX = dZ * W^T
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), k, n,
                1, outputGradient, n, parameters + parameterOffset, n, 0, inputGradient, k)
        }
        // dW = X^T * dZ, written as target = beta * target + alpha * dW.
        cblas_sgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, k, n, Int32(batch),
            target.alpha, input, k, outputGradient, n, target.beta, target.base + parameterOffset, n)
        // db = column sums of dZ; summed in place into the first row.
        for row in 1..<max(batch, 1) {
            let source = outputGradient + row * outputSize
            for j in 0..<outputSize { outputGradient[j] += source[j] }
        }
        target.accumulate(outputGradient, count: outputSize, at: biasOffset)
    }
}
