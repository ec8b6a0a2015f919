@testable import Learning
import Testing

/// The batched im2col convolution against a direct, loop-by-loop one: every
/// pairing of input and output layout, one chunk or many, fused ReLU or not.
/// The finite-difference checks in `GradientCheckTests` cover the layers in a
/// network; these pin the chunking and the layouts, which they cannot reach.
struct ConvolutionTests {
    static let channels = 2, filters = 3, kernel = 3, height = 4, width = 6, batch = 5
    static var pixels: Int { height * width }
    static var patch: Int { channels * kernel * kernel }

    struct Case: Sendable, CustomTestStringConvertible {
        let inputLayout: BatchLayout
        let outputLayout: BatchLayout
        /// Floats of unfolded columns: sets how many samples a chunk holds.
        let columnBudget: Int
        let fusedReLU: Bool
        var testDescription: String { "\(inputLayout) -> \(outputLayout), budget \(columnBudget), relu \(fusedReLU)" }
    }

    static let cases: [Case] = [
        Case(inputLayout: .sampleMajor, outputLayout: .sampleMajor, columnBudget: 1 << 20, fusedReLU: true),
        Case(inputLayout: .sampleMajor, outputLayout: .channelMajor, columnBudget: 1 << 20, fusedReLU: false),
        Case(inputLayout: .channelMajor, outputLayout: .sampleMajor, columnBudget: 2 * patch * pixels, fusedReLU: true),  // chunks 2, 2, 1
        Case(inputLayout: .channelMajor, outputLayout: .channelMajor, columnBudget: 1, fusedReLU: true),  // a sample a chunk
        Case(inputLayout: .sampleMajor, outputLayout: .channelMajor, columnBudget: 3 * patch * pixels, fusedReLU: false),
    ]

    @Test(arguments: cases)
    func batchedConvolutionEqualsDirectConvolution(_ testCase: Case) {
        let (inputLayout, outputLayout, columnBudget, fusedReLU) =
            (testCase.inputLayout, testCase.outputLayout, testCase.columnBudget, testCase.fusedReLU)
        let (c, f, k, h, w, b) = (Self.channels, Self.filters, Self.kernel, Self.height, Self.width, Self.batch)
        let layer = Conv2DLayer(
            channels: c, filters: f, kernel: k, height: h, width: w, fusedReLU: fusedReLU, parameterOffset: 3,
            inputLayout: inputLayout, outputLayout: outputLayout, columnBudget: columnBudget)
        var generator = SeededGenerator(seed: 21)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float(generator.nextGaussian()) } }
        let parameters = random(3 + layer.parameterCount)
        let input = random(b * c * h * w)  // sample-major
        let outputGradient = random(b * f * h * w)  // sample-major
        let weights = Array(parameters[3..<(3 + f * Self.patch)])
        let bias = Array(parameters[(3 + f * Self.patch)...])

        // Direct convolution, sample-major.
        func at(_ values: [Float], _ s: Int, _ ch: Int, _ y: Int, _ x: Int, channels: Int) -> Float {
            y < 0 || y >= h || x < 0 || x >= w ? 0 : values[((s * channels + ch) * h + y) * w + x]
        }
        var expected = [Float](repeating: 0, count: b * f * h * w)
        for s in 0..<b { for o in 0..<f { for y in 0..<h { for x in 0..<w {
            var sum = bias[o]
            for ch in 0..<c { for ky in 0..<k { for kx in 0..<k {
                sum += weights[((o * c + ch) * k + ky) * k + kx] * at(input, s, ch, y + ky - 1, x + kx - 1, channels: c)
            } } }
            expected[((s * f + o) * h + y) * w + x] = fusedReLU ? max(sum, 0) : sum
        } } } }
        let dZ = zip(outputGradient, expected).map { g, value in fusedReLU && value <= 0 ? 0 : g }
        var expectedWeights = [Float](repeating: 0, count: f * Self.patch)
        var expectedBias = [Float](repeating: 0, count: f)
        var expectedInput = [Float](repeating: 0, count: b * c * h * w)
        for s in 0..<b { for o in 0..<f { for y in 0..<h { for x in 0..<w {
            let g = dZ[((s * f + o) * h + y) * w + x]
            expectedBias[o] += g
            for ch in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let (iy, ix) = (y + ky - 1, x + kx - 1)
                let wi = ((o * c + ch) * k + ky) * k + kx
                expectedWeights[wi] += g * at(input, s, ch, iy, ix, channels: c)
                if iy >= 0 && iy < h && ix >= 0 && ix < w { expectedInput[((s * c + ch) * h + iy) * w + ix] += g * weights[wi] }
            } } }
        } } } }

        // The layer, in its layouts.
        let layerInput = Self.convert(input, channels: c, to: inputLayout)
        var layerOutput = [Float](repeating: .nan, count: b * f * h * w)
        var layerOutputGradient = Self.convert(outputGradient, channels: f, to: outputLayout)
        var inputGradient = [Float](repeating: .nan, count: b * c * h * w)
        var gradients = [Float](repeating: .nan, count: parameters.count)
        layer.reserve(batch: b)
        parameters.withUnsafeBufferPointer { p in
            layerInput.withUnsafeBufferPointer { x in
                layerOutput.withUnsafeMutableBufferPointer { y in
                    layer.forward(x.baseAddress!, y.baseAddress!, batch: b, parameters: p.baseAddress!)
                    layerOutputGradient.withUnsafeMutableBufferPointer { dy in
                        inputGradient.withUnsafeMutableBufferPointer { dx in
                            gradients.withUnsafeMutableBufferPointer { g in
                                layer.backward(
                                    input: x.baseAddress!, output: UnsafePointer(y.baseAddress!), outputGradient: dy.baseAddress!,
                                    inputGradient: dx.baseAddress!, batch: b, parameters: p.baseAddress!,
                                    target: GradientTarget(base: g.baseAddress!, alpha: 1, beta: 0))
                            }
                        }
                    }
                }
            }
        }
        func worst(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max()! }
        #expect(layer.chunkSamples == max(1, columnBudget / (Self.patch * Self.pixels)))
        #expect(worst(Self.convert(layerOutput, channels: f, from: outputLayout), expected) < 1e-4)
        #expect(worst(Self.convert(inputGradient, channels: c, from: inputLayout), expectedInput) < 1e-4)
        #expect(worst(Array(gradients[3..<(3 + f * Self.patch)]), expectedWeights) < 1e-3)
        #expect(worst(Array(gradients[(3 + f * Self.patch)...]), expectedBias) < 1e-4)
    }

    @Test func layoutsAreChannelMajorOnlyBetweenImageLayers() {
        let layouts = BatchLayout.boundaries(of: ModelSpec.cnn.layers)
        // conv relu pool conv relu pool dense relu dense
        #expect(layouts == [.sampleMajor, .channelMajor, .channelMajor, .channelMajor, .channelMajor, .channelMajor,
                            .sampleMajor, .sampleMajor, .sampleMajor, .sampleMajor])
        #expect(BatchLayout.boundaries(of: ModelSpec.mlp.layers).allSatisfy { $0 == .sampleMajor })
    }

    static func convert(_ values: [Float], channels: Int, to layout: BatchLayout) -> [Float] {
        var out = values
        for s in 0..<batch { for c in 0..<channels {
            let from = BatchLayout.sampleMajor.planeOffset(channel: c, sample: s, channels: channels, batch: batch, planeSize: pixels)
            let to = layout.planeOffset(channel: c, sample: s, channels: channels, batch: batch, planeSize: pixels)
            out[to..<(to + pixels)] = values[from..<(from + pixels)]
        } }
        return out
    }

    static func convert(_ values: [Float], channels: Int, from layout: BatchLayout) -> [Float] {
        var out = values
        for s in 0..<batch { for c in 0..<channels {
            let from = layout.planeOffset(channel: c, sample: s, channels: channels, batch: batch, planeSize: pixels)
            let to = BatchLayout.sampleMajor.planeOffset(channel: c, sample: s, channels: channels, batch: batch, planeSize: pixels)
            out[to..<(to + pixels)] = values[from..<(from + pixels)]
        } }
        return out
    }
}
