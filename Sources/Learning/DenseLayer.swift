import CBLAS

/// Fully connected layer, optionally with the following ReLU fused in (one
/// pass over the activations instead of two). Weights are `inputs x outputs`
/// row-major, so the forward pass is one `X * W` GEMM with no transposes.
final class DenseLayer: Layer {
    let inputSize: Int
    let outputSize: Int
    let parameterOffset: Int
    let fusedReLU: Bool
    /// Non-zeros of the batch, kept only by a layer that reads raw samples.
    private let sparseInput: SparseRows?
    /// Whether the last forward pass went through `sparseInput`.
    private var forwardWasSparse = false
    var parameterCount: Int { inputSize * outputSize + outputSize }
    private var biasOffset: Int { parameterOffset + inputSize * outputSize }

    /// - Parameter readsRawInput: the layer sees the samples themselves, which
    ///   may be mostly zeros (image pixels); it then skips the zero inputs.
    init(inputs: Int, outputs: Int, fusedReLU: Bool, readsRawInput: Bool, parameterOffset: Int) {
        sparseInput = readsRawInput ? SparseRows() : nil
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
        forwardWasSparse = false
        if let sparse = sparseInput, sparse.collect(input, batch: batch, width: inputSize) < Self.sparseDensityLimit {
            forwardWasSparse = true
            let starts = sparse.rowStarts.pointer
            for row in 0..<batch {
                let first = Int(starts[row])
                accumulateRows(
                    into: output + row * outputSize, width: outputSize, sources: parameters + parameterOffset, stride: outputSize,
                    indices: sparse.columns.pointer + first, scalars: sparse.values.pointer + first,
                    count: Int(starts[row + 1]) - first, scale: 1)
            }
        } else {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(outputSize), Int32(inputSize),
                1, input, Int32(inputSize), parameters + parameterOffset, Int32(outputSize), 1, output, Int32(outputSize))
        }
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
        maskAndPropagate(output: output, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch, parameters: parameters)
        // dW = X^T * dZ, written as target = beta * target + alpha * dW.
        if forwardWasSparse, let sparse = sparseInput {
            accumulateSparseWeightGradient(sparse, outputGradient: outputGradient, batch: batch, target: target)
        } else {
            cblas_sgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, k, n, Int32(batch),
                target.alpha, input, k, outputGradient, n, target.beta, target.base + parameterOffset, n)
        }
        // db = column sums of dZ; summed in place into the first row.
        for row in 1..<max(batch, 1) {
            let source = outputGradient + row * outputSize
            for j in 0..<outputSize { outputGradient[j] += source[j] }
        }
        target.accumulate(outputGradient, count: outputSize, at: biasOffset)
    }

    let clipsExamplesInBatch = true

    /// An example's weight gradient is the outer product of its input a and its output
    /// gradient d, whose Frobenius norm is ‖a‖·‖d‖; its bias gradient is d. So the squared
    /// norm is ‖a‖²‖d‖² + ‖d‖², from vectors the batch pass has anyway, without forming any
    /// example's gradient (Goodfellow 2015, "Efficient per-example gradient computations").
    func accumulateExampleNorms(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>,
        squaredNorms: UnsafeMutablePointer<Float>
    ) {
        let n = Int32(outputSize)
        let k = Int32(inputSize)
        maskAndPropagate(output: output, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch, parameters: parameters)
        for row in 0..<batch {
            let a = input + row * inputSize
            let d = outputGradient + row * outputSize
            let dd = cblas_sdot(n, d, 1, d, 1)
            squaredNorms[row] += cblas_sdot(k, a, 1, a, 1) * dd + dd
        }
    }

    /// The first half of both backward passes: the fused ReLU's mask on dZ, then dX = dZ·Wᵀ
    /// when the layer below wants it. Inlined: as a call, plain training ran ~1.5% slower at
    /// batch 10 and 32 (BENCHMARKS.md, "What DP-SGD costs in time").
    @inline(__always)
    private func maskAndPropagate(
        output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
        batch: Int, parameters: UnsafePointer<Float>
    ) {
        if fusedReLU {
            for i in 0..<(batch * outputSize) where output[i] <= 0 { outputGradient[i] = 0 }
        }
        if let inputGradient {
            let n = Int32(outputSize)
            let k = Int32(inputSize)
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), k, n,
                1, outputGradient, n, parameters + parameterOffset, n, 0, inputGradient, k)
        }
    }

    /// Below this fraction of non-zero inputs the sparse kernels beat the GEMM.
    static let sparseDensityLimit = 0.5

    /// `target = beta * target + alpha * X^T * dZ`, visiting only the weight
    /// rows of inputs that are non-zero somewhere in the batch.
    private func accumulateSparseWeightGradient(
        _ sparse: SparseRows, outputGradient: UnsafePointer<Float>, batch: Int, target: GradientTarget
    ) {
        let weights = target.base + parameterOffset
        let count = inputSize * outputSize
        if target.beta == 0 {
            weights.initialize(repeating: 0, count: count)
        } else if target.beta != 1 {
            cblas_sscal(Int32(count), target.beta, weights, 1)
        }
        sparse.transpose(batch: batch, width: inputSize)
        let starts = sparse.columnStarts.pointer
        for column in 0..<inputSize {
            let first = Int(starts[column])
            let rows = Int(starts[column + 1]) - first
            guard rows > 0 else { continue }
            accumulateRows(
                into: weights + column * outputSize, width: outputSize, sources: outputGradient, stride: outputSize,
                indices: sparse.columnRows.pointer + first, scalars: sparse.columnValues.pointer + first, count: rows,
                scale: target.alpha)
        }
    }
}
