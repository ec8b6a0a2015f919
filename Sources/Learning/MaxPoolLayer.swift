/// 2 x 2 max-pooling, stride 2, reading and writing either `BatchLayout`.
///
/// Nothing is remembered between the passes: the backward pass finds each
/// window's winner again as the first of its four inputs (top-left,
/// top-right, bottom-left, bottom-right) equal to the window's output, and
/// writes all four input gradients (the winner's, three zeros). Both passes
/// are branch-free loops that vectorise, and no buffer has to be cleared.
final class MaxPoolLayer: Layer {
    let channels: Int
    let height: Int
    let width: Int
    let parameterOffset: Int
    let parameterCount = 0
    let inputLayout: BatchLayout
    let outputLayout: BatchLayout
    var inputSize: Int { channels * height * width }
    var outputSize: Int { channels * (height / 2) * (width / 2) }

    init(
        channels: Int, height: Int, width: Int, parameterOffset: Int, inputLayout: BatchLayout = .sampleMajor,
        outputLayout: BatchLayout = .sampleMajor
    ) {
        self.channels = channels
        self.height = height
        self.width = width
        self.parameterOffset = parameterOffset
        self.inputLayout = inputLayout
        self.outputLayout = outputLayout
    }

    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {}

    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        forEachRow(batch: batch) { inputRow, outputRow, count in
            let top = input + inputRow
            let bottom = top + width
            let out = output + outputRow
            for x in 0..<count {
                out[x] = max(max(top[2 * x], top[2 * x + 1]), max(bottom[2 * x], bottom[2 * x + 1]))
            }
        }
    }

    func backward(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>, target: GradientTarget
    ) {
        propagate(input: input, output: output, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch)
    }

    let clipsExamplesInBatch = true

    /// No parameters: only the gradient's way back to the winners, as `backward`.
    func accumulateExampleNorms(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>,
        squaredNorms: UnsafeMutablePointer<Float>
    ) {
        propagate(input: input, output: output, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch)
    }

    @inline(__always)
    private func propagate(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int
    ) {
        guard let inputGradient else { return }
        forEachRow(batch: batch) { inputRow, outputRow, count in
            let (top, gradientTop) = (input + inputRow, inputGradient + inputRow)
            let (bottom, gradientBottom) = (top + width, gradientTop + width)
            let (out, gradient) = (output + outputRow, outputGradient + outputRow)
            for x in 0..<count {
                let best = out[x]
                let g = gradient[x]
                // Arithmetic rather than a chain of conditions, so that it vectorises.
                let topLeft: Float = top[2 * x] == best ? 1 : 0
                let topRight: Float = top[2 * x + 1] == best ? 1 - topLeft : 0
                let bottomLeft: Float = bottom[2 * x] == best ? 1 - topLeft - topRight : 0
                let bottomRight = 1 - topLeft - topRight - bottomLeft
                gradientTop[2 * x] = topLeft * g
                gradientTop[2 * x + 1] = topRight * g
                gradientBottom[2 * x] = bottomLeft * g
                gradientBottom[2 * x + 1] = bottomRight * g
            }
        }
    }

    /// Calls `body(offset of the input's top row, offset of the output row,
    /// output width)` for every output row of every plane, in the layer's layouts.
    @inline(__always)
    private func forEachRow(batch: Int, _ body: (Int, Int, Int) -> Void) {
        let (outHeight, outWidth) = (height / 2, width / 2)
        for c in 0..<channels {
            for sample in 0..<batch {
                let plane = inputLayout.planeOffset(channel: c, sample: sample, channels: channels, batch: batch, planeSize: height * width)
                let pooled = outputLayout.planeOffset(
                    channel: c, sample: sample, channels: channels, batch: batch, planeSize: outHeight * outWidth)
                for y in 0..<outHeight {
                    body(plane + 2 * y * width, pooled + y * outWidth, outWidth)
                }
            }
        }
    }
}
