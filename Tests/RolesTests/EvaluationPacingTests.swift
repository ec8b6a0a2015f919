import Roles
import Testing

/// The evaluator's rest after each evaluation, without I/O.
struct EvaluationPacingTests {
    @Test func aLightModelRestsUntilTheMinimumInterval() {
        let pacing = EvaluationPacing(minimumInterval: .milliseconds(200), share: 0.25)
        // The mlp's 40 ms evaluation: 160 ms to the interval beats 3 × 40 ms.
        #expect(pacing.rest(afterEvaluationOf: .milliseconds(40)) == .milliseconds(160))
    }

    @Test func aHeavyModelRestsInProportionSoEvaluationKeepsItsShare() {
        let pacing = EvaluationPacing(minimumInterval: .milliseconds(200), share: 0.25)
        // A 3 s CNN evaluation: 9 s of rest, so 3 of every 12 seconds are evaluation's.
        let took = Duration.seconds(3)
        let rest = pacing.rest(afterEvaluationOf: took)
        #expect(rest == .seconds(9))
        #expect(took / (took + rest) == 0.25)
    }

    @Test func aWholeCoreLeavesOnlyTheInterval() {
        let pacing = EvaluationPacing(minimumInterval: .milliseconds(200), share: 1)
        #expect(pacing.rest(afterEvaluationOf: .seconds(3)) == .zero)
        #expect(pacing.rest(afterEvaluationOf: .milliseconds(50)) == .milliseconds(150))
        #expect(EvaluationPacing(minimumInterval: .zero, share: 1).rest(afterEvaluationOf: .milliseconds(5)) == .zero)
    }

    @Test func onABusyMachineTheShareIsOfCPUTimeNotOfWallTime() {
        let pacing = EvaluationPacing(minimumInterval: .milliseconds(200), share: 0.25)
        // 6 s of wall time of which 2 s were spent waiting for a core: the evaluation cost
        // a core 4 s, so it rests 12 s, not 18.
        #expect(pacing.rest(afterEvaluationOf: .seconds(6), cpu: .seconds(4)) == .seconds(12))
        // CPU time above the wall time (a clock's rounding) counts as the wall time.
        #expect(pacing.rest(afterEvaluationOf: .seconds(3), cpu: .seconds(5)) == .seconds(9))
    }
}
