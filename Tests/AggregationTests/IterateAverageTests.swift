@testable import Aggregation
import Testing

/// The versions' moving average a private run releases at the end of its budget.
struct IterateAverageTests {
    @Test func theFirstVersionIsTheAverageAndTheDecayWarmsUpToItsValue() {
        var average = IterateAverage(decay: 0.9)
        #expect(average.nextDecay == 0)
        average.include([0, 0])
        #expect(average.parameters == [0, 0] && average.count == 1)
        // d = min(0.9, 1/10): the second version weighs 0.9.
        #expect(average.nextDecay == 0.1)
        average.include([10, -10])
        #expect(average.parameters == [9, -9])
        // d = min(0.9, 2/11).
        #expect(abs(average.nextDecay - 2.0 / 11) < 1e-12)
        average.include([20, 20])
        let expected = 9 + Float(1 - 2.0 / 11) * 11
        #expect(abs(average.parameters[0] - expected) < 1e-5)
        // From the 81st version on the warm-up no longer binds: d = 0.9.
        for _ in 0..<80 { average.include([1, 1]) }
        #expect(average.nextDecay == 0.9)
    }

    @Test func noiseAroundAPointAveragesDownByTheDecay() {
        // Versions ±1 around 5, alternating: the average's swing is (1 − d)/(1 + d) of theirs.
        var average = IterateAverage(decay: 0.9)
        for step in 0..<400 { average.include([5 + (step % 2 == 0 ? 1 : -1)]) }
        #expect(abs(average.parameters[0] - 5) < 0.06)
        #expect(abs(abs(average.parameters[0] - 5) - 0.1 / 1.9) < 1e-3)
    }

    @Test func aRestoredAverageGoesOnAsTheOriginal() {
        var original = IterateAverage(decay: 0.8)
        for value in [1, 4, 2] as [Float] { original.include([value]) }
        var restored = IterateAverage(decay: 0.8, parameters: original.parameters, count: original.count)
        original.include([7])
        restored.include([7])
        #expect(restored == original)
    }
}
