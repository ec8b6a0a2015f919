import Testing
@testable import Wire

@Suite struct QuantisationTests {
    /// The mean of many stochastically rounded encodes converges to the input: the int8
    /// quantiser is unbiased, so averaging over clients does not drift the model.
    @Test func stochasticRoundingIsUnbiased() throws {
        let count = 512
        // Values spread over the block, including ones between quantisation steps.
        var values = (0..<count).map { Float($0 - 256) / 256 * 1e-3 }
        values[0] = 1e-3  // the block maximum: scale = 1e-3 / 127
        let draws = 4000
        var sum = [Double](repeating: 0, count: count)
        var generator = SplitMix64(seed: 11)
        let header = Fixture.header(codec: "int8", count: count)
        for _ in 0..<draws {
            let decoded = try Envelope(bytes: Envelope.encode(values, header: header, using: &generator)).decode()
            for index in 0..<count { sum[index] += Double(decoded[index]) }
        }
        let step = 1e-3 / 127
        for index in 0..<count {
            let mean = sum[index] / Double(draws)
            // One draw's error is at most one step, its standard deviation at most step/2:
            // 5 standard errors of the mean.
            #expect(abs(mean - Double(values[index])) <= 5 * step / 2 / Double(draws).squareRoot(), "index \(index)")
        }
    }

    @Test func roundingIsStochasticNotNearest() throws {
        var values = [Float](repeating: 0.25, count: 512)
        values[0] = 127  // scale 1: 0.25 must round to 0 or 1, about a quarter of the time to 1
        var generator = SplitMix64(seed: 5)
        let decoded = try Envelope(bytes: Envelope.encode(values, header: Fixture.header(codec: "int8", count: 512), using: &generator)).decode()
        let ones = decoded.dropFirst().filter { $0 == 1 }.count
        #expect(decoded.dropFirst().allSatisfy { $0 == 0 || $0 == 1 })
        #expect((90...165).contains(ones))
    }

    @Test func sameSeedSameBytes() throws {
        let values = Fixture.update(count: 3000, seed: 2)
        #expect(Fixture.message(codec: "int8", values: values, seed: 4) == Fixture.message(codec: "int8", values: values, seed: 4))
    }

    /// With error feedback the sum of what was sent tracks the sum of the true updates: the
    /// gap is exactly the residual, which stays bounded while the sums grow.
    @Test(arguments: ["topk:0.01", "topk:0.01+int8", "int8", "topk:0.05+fp16"])
    func errorFeedbackConvergesToTrueSum(codec: String) throws {
        let count = 4000
        var feedback = ErrorFeedback(parameterCount: count, storage: .fp32)  // exact: the gap is the residual to 1e-4
        var trueSum = [Double](repeating: 0, count: count)
        var sentSum = [Double](repeating: 0, count: count)
        var generator = SplitMix64(seed: 21)
        let rounds = 800
        var earlyRelativeGap = 0.0
        func relativeGap() -> Double {
            let gap = zip(trueSum, sentSum).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            return gap / trueSum.map { $0 * $0 }.reduce(0, +).squareRoot()
        }
        let bias = Fixture.update(count: count, seed: 99)  // a persistent direction, like a real gradient
        for round in 0..<rounds {
            let noise = Fixture.update(count: count, seed: UInt64(round + 1000))
            let delta = zip(bias, noise).map { $0 + 0.5 * $1 }
            let message = try feedback.encode(delta, header: Fixture.header(codec: codec, count: count), using: &generator)
            let sent = try Envelope(bytes: message).decode()
            for index in 0..<count {
                trueSum[index] += Double(delta[index])
                sentSum[index] += Double(sent[index])
            }
            if round == 99 { earlyRelativeGap = relativeGap() }
        }
        // The relative gap shrinks as rounds accumulate (like 1/rounds: the residual is bounded).
        #expect(relativeGap() < 0.05, "relative gap \(relativeGap())")
        #expect(relativeGap() < earlyRelativeGap / 2, "gap after 100 rounds \(earlyRelativeGap), after \(rounds) \(relativeGap())")
        // The gap is the residual the client still holds.
        let residualGap = zip(zip(trueSum, sentSum), feedback.residual).map { ($0.0 - $0.1) - Double($1) }
        #expect(residualGap.allSatisfy { abs($0) < 1e-4 })
        // Without feedback top-k would have lost most of the mass.
        if codec.hasPrefix("topk") {
            let lossless = try Envelope(bytes: Fixture.message(codec: codec, values: bias)).decode()
            let dropped = zip(bias, lossless).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +).squareRoot()
            let biasNorm = bias.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            #expect(dropped / biasNorm > 0.3)
        }
    }

    @Test func topkSelectionBreaksTiesByIndexAndKeepsK() {
        let values: [Float] = [1, -3, 3, 0, 2, -3, 1]
        let selected = values.withUnsafeBufferPointer { TopKSelection.select($0, count: 2) }
        #expect(selected == [1, 2])
        let three = values.withUnsafeBufferPointer { TopKSelection.select($0, count: 3) }
        #expect(three == [1, 2, 5])
    }
}
