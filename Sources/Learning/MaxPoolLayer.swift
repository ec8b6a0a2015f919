/// 2 x 2 max-pooling, stride 2. Remembers which input won each window so the
/// backward pass routes the gradient to it alone. Reads and writes either
/// `BatchLayout`; the winners are absolute input positions, so the backward
/// pass does not depend on the layouts.
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
    private let winners: ScratchBuffer<Int32>

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
        winners = ScratchBuffer()
    }

    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {}

    func reserve(batch: Int) { winners.reserve(batch * outputSize) }

    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        winners.reserve(batch * outputSize)
        let outHeight = height / 2
        let outWidth = width / 2
        for c in 0..<channels {
            for sample in 0..<batch {
                let base = inputLayout.planeOffset(channel: c, sample: sample, channels: channels, batch: batch, planeSize: height * width)
                let o = outputLayout.planeOffset(
                    channel: c, sample: sample, channels: channels, batch: batch, planeSize: outHeight * outWidth)
                let out = output + o
                let won = winners.pointer + o
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let i0 = base + 2 * y * width + 2 * x
                        var best = i0
                        if input[i0 + 1] > input[best] { best = i0 + 1 }
                        if input[i0 + width] > input[best] { best = i0 + width }
                        if input[i0 + width + 1] > input[best] { best = i0 + width + 1 }
                        out[y * outWidth + x] = input[best]
                        won[y * outWidth + x] = Int32(best)
                    }
                }
            }
        }
    }

    func backward(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>, target: GradientTarget
    ) {
        guard let inputGradient else { return }
        inputGradient.initialize(repeating: 0, count: batch * inputSize)
        for o in 0..<(batch * outputSize) {
            inputGradient[Int(winners.pointer[o])] += outputGradient[o]
        }
    }
}
