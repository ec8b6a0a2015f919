@testable import Learning
import Testing

/// Max-pooling keeps no winners between its passes; these pin what the
/// backward pass finds again: the first maximum of a window in reading
/// order takes the whole gradient, in either layout.
struct MaxPoolTests {
    @Test(arguments: [BatchLayout.sampleMajor, .channelMajor])
    func gradientGoesToTheFirstMaximumOfEachWindow(layout: BatchLayout) {
        // 2 samples x 2 channels of 2 x 4: each plane is two windows.
        let planes: [[Float]] = [
            [1, 3, 5, 5, 2, 0, 5, 4],  // windows (1,3,2,0) -> 3 top-right; (5,5,5,4) -> 5 top-left (ties)
            [0, 0, 7, 1, 0, 9, 2, 7],  // (0,0,0,9) -> 9 bottom-right; (7,1,2,7) -> 7 top-left (tie with bottom-right)
            [-1, -2, 0, 0, -3, -1, 0, 1],  // (-1,-2,-3,-1) -> -1 top-left; (0,0,0,1) -> 1 bottom-right
            [4, 4, 4, 4, 4, 4, 4, 4],  // all tied -> top-left
        ]
        let layer = MaxPoolLayer(channels: 2, height: 2, width: 4, parameterOffset: 0, inputLayout: layout, outputLayout: layout)
        // planes[i] is sample i / 2, channel i % 2.
        var input = [Float](repeating: 0, count: 32)
        for (i, plane) in planes.enumerated() {
            let offset = layout.planeOffset(channel: i % 2, sample: i / 2, channels: 2, batch: 2, planeSize: 8)
            input.replaceSubrange(offset..<(offset + 8), with: plane)
        }
        var output = [Float](repeating: .nan, count: 8)
        var outputGradient: [Float] = [10, 20, 30, 40, 50, 60, 70, 80]
        var inputGradient = [Float](repeating: .nan, count: 32)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                layer.forward(x.baseAddress!, y.baseAddress!, batch: 2, parameters: x.baseAddress!)
                outputGradient.withUnsafeMutableBufferPointer { dy in
                    inputGradient.withUnsafeMutableBufferPointer { dx in
                        layer.backward(
                            input: x.baseAddress!, output: UnsafePointer(y.baseAddress!), outputGradient: dy.baseAddress!,
                            inputGradient: dx.baseAddress!, batch: 2, parameters: x.baseAddress!,
                            target: GradientTarget(base: dx.baseAddress!, alpha: 0, beta: 1))
                    }
                }
            }
        }
        let expectedOutput: [[Float]] = [[3, 5], [9, 7], [-1, 1], [4, 4]]
        // The winner of each plane's two windows, by position in the plane.
        let winners = [(1, 2), (5, 2), (0, 7), (0, 2)]
        for (i, winner) in winners.enumerated() {
            let offset = layout.planeOffset(channel: i % 2, sample: i / 2, channels: 2, batch: 2, planeSize: 8)
            let pooled = layout.planeOffset(channel: i % 2, sample: i / 2, channels: 2, batch: 2, planeSize: 2)
            var expectedGradient = [Float](repeating: 0, count: 8)
            expectedGradient[winner.0] = outputGradient[pooled]
            expectedGradient[winner.1] = outputGradient[pooled + 1]
            #expect(Array(output[pooled..<(pooled + 2)]) == expectedOutput[i])
            #expect(Array(inputGradient[offset..<(offset + 8)]) == expectedGradient, "plane \(i)")
        }
    }
}
