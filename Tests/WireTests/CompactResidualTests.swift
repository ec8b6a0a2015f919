import Testing
@testable import Wire

/// The int8 error-feedback residual (`CompactResidual`, `ErrorFeedback.Storage.int8`) as a
/// value: its size, its round-trip error, that it is unbiased, and that error feedback
/// through it still carries what top-k left out.
@Suite struct CompactResidualTests {
    /// The largest quantisation step of each value's 256-value block: `max|block| / 127`.
    static func steps(of values: [Float]) -> [Float] {
        stride(from: 0, to: values.count, by: 256).flatMap { start in
            let block = values[start..<min(start + 256, values.count)]
            let step = block.map(abs).max()! / 127
            return [Float](repeating: step, count: block.count)
        }
    }

    @Test(arguments: [1, 255, 256, 1000, 199_210])
    func holdsOneBytePerValuePlusAScalePerBlock(count: Int) {
        var random = VectorRandom(seed: 3)
        let values = Fixture.update(count: count, seed: 5).map { $0 == 0 ? 1e-4 : $0 }
        let compact = CompactResidual(values, random: &random)
        #expect(compact.count == count)
        #expect(compact.byteCount == count + 4 * ((count + 255) / 256))
        #expect(compact.values.count == count)
        // The mlp's residual: 199,210 values in 202,326 bytes instead of 796,840.
        if count == 199_210 { #expect(compact.byteCount == 202_326) }
    }

    @Test func zeroCostsNothingAndAddsNothing() {
        let zero = CompactResidual(zeros: 1000)
        #expect(zero.byteCount == 0)
        #expect(zero.values == [Float](repeating: 0, count: 1000))
        var random = VectorRandom(seed: 1)
        #expect(CompactResidual([Float](repeating: 0, count: 1000), random: &random).byteCount == 0)
        var values: [Float] = (0..<1000).map(Float.init)
        zero.add(to: &values)
        #expect(values == (0..<1000).map(Float.init))
    }

    /// Every value comes back within one step of its block, and the block maximum exactly.
    @Test func roundTripErrorIsUnderOneStepPerValue() {
        let values = Fixture.update(count: 5000, seed: 8)
        var random = VectorRandom(seed: 9)
        let decoded = CompactResidual(values, random: &random).values
        let steps = Self.steps(of: values)
        for index in values.indices {
            #expect(abs(decoded[index] - values[index]) <= steps[index] * 1.0001, "index \(index)")
        }
        // The largest entry of a block is a whole number of steps (127): it comes back as it was.
        let blockMax = values[0..<256].indices.max { abs(values[$0]) < abs(values[$1]) }!
        #expect(abs(decoded[blockMax] - values[blockMax]) <= abs(values[blockMax]) * 1e-6)
    }

    /// A value under half a step, which round-to-nearest would zero every time, survives in
    /// expectation: stochastic rounding is why slowly accumulating coordinates still reach top-k.
    @Test func smallValuesSurviveInExpectation() {
        var values = [Float](repeating: 0.1, count: 256)  // 0.1 step: nearest rounding gives 0
        values[0] = 127
        var random = VectorRandom(seed: 17)
        let draws = 4000
        var sum = 0.0
        for _ in 0..<draws { sum += Double(CompactResidual(values, random: &random).values[1]) }
        let mean = sum / Double(draws)
        // One draw is 0 or 1 (standard deviation 0.3): 5 standard errors of the mean.
        #expect(abs(mean - 0.1) < 5 * 0.3 / Double(draws).squareRoot(), "mean \(mean)")
    }

    /// One encode: what was sent plus the new residual is the delta, to the storage error.
    @Test func feedbackKeepsWhatTopKLeftOut() throws {
        let count = 4000
        let delta = Fixture.update(count: count, seed: 31)
        var compact = ErrorFeedback(parameterCount: count, storage: .int8)
        var exact = ErrorFeedback(parameterCount: count, storage: .fp32)
        var generator = SplitMix64(seed: 2)
        let header = Fixture.header(codec: "topk:0.01", count: count)
        let message = try compact.encode(delta, header: header, using: &generator)
        _ = try exact.encode(delta, header: header, using: &generator)
        let sent = try Envelope(bytes: message).decode()
        #expect(sent.filter { $0 != 0 }.count == 40)  // exactly k = 1% of 4,000 went out
        #expect(compact.byteCount == count + 4 * 16)
        #expect(exact.byteCount == 4 * count)
        let leftOut = zip(delta, sent).map { $0 - $1 }
        let steps = Self.steps(of: leftOut)
        for (index, kept) in compact.residual.enumerated() {
            #expect(abs(kept - leftOut[index]) <= steps[index] * 1.0001, "index \(index)")
        }
        #expect(exact.residual == leftOut)
    }

    /// Over many rounds the sum of what was sent tracks the sum of the true updates through
    /// the int8 residual too: the storage error is noise that does not grow into a bias.
    @Test func feedbackThroughInt8StillConverges() throws {
        let count = 4000
        var feedback = ErrorFeedback(parameterCount: count, storage: .int8)
        var trueSum = [Double](repeating: 0, count: count)
        var sentSum = [Double](repeating: 0, count: count)
        var generator = SplitMix64(seed: 21)
        let bias = Fixture.update(count: count, seed: 99)
        func relativeGap() -> Double {
            let gap = zip(trueSum, sentSum).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
            return gap / trueSum.map { $0 * $0 }.reduce(0, +).squareRoot()
        }
        var early = 0.0
        for round in 0..<800 {
            let noise = Fixture.update(count: count, seed: UInt64(round + 1000))
            let delta = zip(bias, noise).map { $0 + 0.5 * $1 }
            let sent = try Envelope(bytes: feedback.encode(delta, header: Fixture.header(codec: "topk:0.01+int8", count: count), using: &generator)).decode()
            for index in 0..<count {
                trueSum[index] += Double(delta[index])
                sentSum[index] += Double(sent[index])
            }
            if round == 99 { early = relativeGap() }
        }
        #expect(relativeGap() < 0.05, "relative gap \(relativeGap())")
        #expect(relativeGap() < early / 2, "gap after 100 rounds \(early), after 800 \(relativeGap())")
    }

    @Test func aDeltaOfAnotherSizeIsRefusedAndLeavesTheResidual() {
        var feedback = ErrorFeedback(parameterCount: 100)
        var generator = SplitMix64(seed: 1)
        do throws(WireError) {
            _ = try feedback.encode([Float](repeating: 1, count: 99), header: Fixture.header(codec: "topk:0.1", count: 99), using: &generator)
            Issue.record("a delta of 99 values was encoded against a residual of 100")
        } catch {
            guard case .inconsistentInput(field: .parameterCount, _) = error else {
                Issue.record("expected inconsistentInput(parameterCount), got \(error)")
                return
            }
        }
        #expect(feedback.byteCount == 0)
        #expect(feedback.storage == .int8)
    }
}
