import CBLAS

/// 2-D convolution, stride 1, 'same' zero padding, by im2col + GEMM, with an
/// optional fused ReLU. Weights are `filters x (channels * k * k)` row-major
/// followed by one bias per filter.
final class Conv2DLayer: Layer {
    let channels: Int
    let filters: Int
    let kernel: Int
    let height: Int
    let width: Int
    let fusedReLU: Bool
    let parameterOffset: Int
    var inputSize: Int { channels * height * width }
    var outputSize: Int { filters * height * width }
    var parameterCount: Int { filters * patchSize + filters }
    private var patchSize: Int { channels * kernel * kernel }
    private var pixels: Int { height * width }
    private var biasOffset: Int { parameterOffset + filters * patchSize }
    /// One sample's im2col matrix (`patchSize x pixels`); reused for every sample.
    private let columns: ScratchBuffer<Float>
    private let biasSums: ScratchBuffer<Float>

    init(channels: Int, filters: Int, kernel: Int, height: Int, width: Int, fusedReLU: Bool, parameterOffset: Int) {
        self.channels = channels
        self.filters = filters
        self.kernel = kernel
        self.height = height
        self.width = width
        self.fusedReLU = fusedReLU
        self.parameterOffset = parameterOffset
        columns = ScratchBuffer(capacity: channels * kernel * kernel * height * width)
        biasSums = ScratchBuffer(capacity: filters)
    }

    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {
        Initialization.fill(
            parameters + parameterOffset, count: filters * patchSize, fanIn: patchSize, fanOut: filters * kernel * kernel,
            beforeReLU: fusedReLU, generator: &generator)
        (parameters + biasOffset).initialize(repeating: 0, count: filters)
    }

    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        let bias = parameters + biasOffset
        for sample in 0..<batch {
            let out = output + sample * outputSize
            for f in 0..<filters {
                (out + f * pixels).initialize(repeating: bias[f], count: pixels)
            }
            imageToColumns(input + sample * inputSize)
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(filters), Int32(pixels), Int32(patchSize),
                1, parameters + parameterOffset, Int32(patchSize), columns.pointer, Int32(pixels), 1, out, Int32(pixels))
        }
        if fusedReLU {
            for i in 0..<(batch * outputSize) { output[i] = max(output[i], 0) }
        }
    }

    func backward(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>, target: GradientTarget
    ) {
        if fusedReLU {
            for i in 0..<(batch * outputSize) where output[i] <= 0 { outputGradient[i] = 0 }
        }
        if let inputGradient {
            for sample in 0..<batch {
                // dColumns = W^T * dZ, then scattered back onto the image.
                cblas_sgemm(
                    CblasRowMajor, CblasTrans, CblasNoTrans, Int32(patchSize), Int32(pixels), Int32(filters),
                    1, parameters + parameterOffset, Int32(patchSize), outputGradient + sample * outputSize, Int32(pixels),
                    0, columns.pointer, Int32(pixels))
                columnsToImage(inputGradient + sample * inputSize)
            }
        }
        biasSums.pointer.initialize(repeating: 0, count: filters)
        for sample in 0..<batch {
            imageToColumns(input + sample * inputSize)
            let dZ = outputGradient + sample * outputSize
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(filters), Int32(patchSize), Int32(pixels),
                target.alpha, dZ, Int32(pixels), columns.pointer, Int32(pixels), sample == 0 ? target.beta : 1,
                target.base + parameterOffset, Int32(patchSize))
            for f in 0..<filters {
                var sum: Float = 0
                let row = dZ + f * pixels
                for p in 0..<pixels { sum += row[p] }
                biasSums.pointer[f] += sum
            }
        }
        target.accumulate(biasSums.pointer, count: filters, at: biasOffset)
    }

    /// Unfolds one sample into `columns`: row (c, ky, kx), column (y, x).
    private func imageToColumns(_ image: UnsafePointer<Float>) {
        let pad = (kernel - 1) / 2
        var row = columns.pointer
        for c in 0..<channels {
            let plane = image + c * pixels
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    for y in 0..<height {
                        let iy = y + ky - pad
                        let out = row + y * width
                        if iy < 0 || iy >= height {
                            out.initialize(repeating: 0, count: width)
                            continue
                        }
                        let line = plane + iy * width
                        for x in 0..<width {
                            let ix = x + kx - pad
                            out[x] = ix >= 0 && ix < width ? line[ix] : 0
                        }
                    }
                    row += pixels
                }
            }
        }
    }

    /// Adds `columns` back onto an image: the adjoint of `imageToColumns`.
    private func columnsToImage(_ image: UnsafeMutablePointer<Float>) {
        let pad = (kernel - 1) / 2
        image.initialize(repeating: 0, count: inputSize)
        var row = UnsafePointer(columns.pointer)
        for c in 0..<channels {
            let plane = image + c * pixels
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    for y in 0..<height {
                        let iy = y + ky - pad
                        guard iy >= 0 && iy < height else { continue }
                        let line = plane + iy * width
                        let source = row + y * width
                        for x in 0..<width {
                            let ix = x + kx - pad
                            if ix >= 0 && ix < width { line[ix] += source[x] }
                        }
                    }
                    row += pixels
                }
            }
        }
    }
}
