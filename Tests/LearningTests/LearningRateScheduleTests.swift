import Learning
import Testing

struct LearningRateScheduleTests {
    @Test func cosineStartsAtTheBaseRateAndFallsEveryEpoch() {
        let rates = (1...5).map { LearningRateSchedule.cosine.rate(epoch: $0, of: 5, base: 0.01) }
        let expected: [Float] = [0.01, 0.0090451, 0.0065451, 0.0034549, 0.0009549]
        #expect(zip(rates, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(rates)")
        #expect(LearningRateSchedule.cosine.rate(epoch: 1, of: 1, base: 0.1) == 0.1)
        #expect((1...3).map { LearningRateSchedule.constant.rate(epoch: $0, of: 3, base: 0.1) } == [0.1, 0.1, 0.1])
    }

    @Test func theDecayOverVersionsHalvesByItsVersionAndNeverReachesZero() throws {
        let decay = try LearningRateDecay(halvingVersion: 60)
        #expect(decay.rate(base: 0.1, version: 0) == 0.1)
        #expect(abs(decay.rate(base: 0.1, version: 60) - 0.05) < 1e-7)
        #expect(abs(decay.rate(base: 0.1, version: 120) - 0.1 / 3) < 1e-7)
        #expect(decay.rate(base: 0.1, version: 1 << 40) > 0)
        #expect(throws: ModelError.invalidTrainingSetting("a learning-rate decay halves by a positive version, got 0")) {
            try LearningRateDecay(halvingVersion: 0)
        }
    }
}
