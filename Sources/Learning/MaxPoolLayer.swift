/// 2 x 2 max-pooling, stride 2. Remembers which input won each window so the
/// backward pass routes the gradient to it alone.
final class MaxPoolLayer: Layer {
    let channels: Int
    let height: Int
    let width: Int
    let parameterOffset: Int
    let parameterCount = 0
    var inputSize: Int { channels * height * width }
    var outputSize: Int { channels * (height / 2) * (width / 2) }
    private let winners: ScratchBuffer<Int32>

    init(channels: Int, height: Int, width: Int, parameterOffset: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.parameterOffset = parameterOffset
        winners = ScratchBuffer()
    }

    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator) {}

    func reserve(batch: Int) { winners.reserve(batch * outputSize) }

    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        winners.reserve(batch * outputSize)
        let w = winners.pointer
        let outHeight = height / 2
        let outWidth = width / 2
        var o = 0
        for plane in 0..<(batch * channels) {
            let base = plane * height * width
            for y in 0..<outHeight {
                for x in 0..<outWidth {
                    let i0 = base + 2 * y * width + 2 * x
                    var best = i0
                    if input[i0 + 1] > input[best] { best = i0 + 1 }
                    if input[i0 + width] > input[best] { best = i0 + width }
                    if input[i0 + width + 1] > input[best] { best = i0 + width + 1 }
                    output[o] = input[best]
                    w[o] = Int32(best)
                    o += 1
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
