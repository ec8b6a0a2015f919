import FedCore
import Foundation
@testable import Privacy
import Testing

@Suite struct DifferentialPrivacyTests {
    @Test func settingsNameTheOptionAtFault() {
        #expect(throws: DifferentialPrivacyError.invalid(option: "--dp-clip", "must be a positive number, got -1.0")) {
            try DifferentialPrivacy(clipNorm: -1, noiseMultiplier: 1, population: 100)
        }
        #expect(throws: DifferentialPrivacyError.invalid(option: "--dp-noise-multiplier", "must be zero or more, got -0.5")) {
            try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: -0.5, population: 100)
        }
        #expect(throws: DifferentialPrivacyError.invalid(option: "--dp-delta", "must be in (0, 1), got 1.0")) {
            try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, delta: 1, population: 100)
        }
        #expect(throws: DifferentialPrivacyError.invalid(option: "--dp-target-epsilon", "must be a positive number, got 0.0")) {
            try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 0, population: 100)
        }
        #expect(throws: DifferentialPrivacyError.invalid(option: "--dp-population", "must be positive, got 0")) {
            try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, population: 0)
        }
    }

    @Test func theDefaultDeltaIsBelowOneOverThePopulation() throws {
        #expect(DifferentialPrivacy.defaultDelta(population: 100) == 1e-5)
        let million = DifferentialPrivacy.defaultDelta(population: 1_000_000)
        #expect(abs(million - 1 / pow(1e6, 1.1)) < 1e-20 && million < 1e-6)
        #expect(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, population: 100).delta == 1e-5)
    }

    @Test func samplingRateIsTheAggregatesShareOfThePopulation() throws {
        let dp = try DifferentialPrivacy(clipNorm: 2, noiseMultiplier: 1.5, population: 100)
        #expect(dp.samplingRate(updates: 10) == 0.1)
        #expect(dp.samplingRate(updates: 300) == 1)
        #expect(dp.noiseStandardDeviation == 3)
    }

    @Test func theLedgerRefusesAnAggregateThatWouldOverspend() throws {
        // q = 10/100, σ = 1: dp_accounting gives ε = 6.3366 at δ = 1e-5 after 60 steps.
        let dp = try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, delta: 1e-5, targetEpsilon: 6.3, population: 100)
        var ledger = PrivacyLedger(settings: dp)
        var applied = 0
        while ledger.permits(updates: 10, largestClientShare: 1) {
            ledger.record(updates: 10, largestClientShare: 1)
            applied += 1
        }
        #expect(applied == 59)
        #expect(ledger.epsilon <= 6.3)
        #expect(ledger.accountant.epsilon(delta: 1e-5, afterRecording: 0.1, noiseMultiplier: 1) > 6.3)
        #expect(abs(ledger.accountant.epsilon(delta: 1e-5, afterRecording: 0.1, noiseMultiplier: 1) - 6.336596135764658) < 1e-9)
        #expect(ledger.lastSamplingRate == 0.1)
    }

    /// An aggregate holding m updates of one client moves the sum by up to m·C under noise
    /// of σ·C: the ledger charges it as a step at σ/m, and refuses it sooner.
    @Test func anAggregateHoldingAClientTwiceIsChargedAtHalfTheNoiseMultiplier() throws {
        let dp = try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 2, delta: 1e-5, targetEpsilon: 3, population: 100)
        #expect(PrivacyLedger(settings: dp).noiseMultiplier(largestClientShare: 2) == 1)
        #expect(PrivacyLedger(settings: dp).noiseMultiplier(largestClientShare: 0) == 2, "no client named counts as one")
        var once = PrivacyLedger(settings: dp), twice = PrivacyLedger(settings: dp)
        once.record(updates: 10, largestClientShare: 1)
        twice.record(updates: 10, largestClientShare: 2)
        var atHalf = RDPAccountant()
        atHalf.record(samplingRate: 0.1, noiseMultiplier: 1)
        #expect(twice.accountant == atHalf)
        #expect(twice.epsilon > 2 * once.epsilon, "ε \(twice.epsilon) against \(once.epsilon)")
        // How many aggregates the target allows, every one with some client twice, against none.
        func allowed(share: Int) -> Int {
            var ledger = PrivacyLedger(settings: dp)
            var count = 0
            while ledger.permits(updates: 10, largestClientShare: share) {
                ledger.record(updates: 10, largestClientShare: share)
                count += 1
            }
            return count
        }
        let (single, repeated) = (allowed(share: 1), allowed(share: 2))
        #expect(repeated > 0 && repeated * 3 < single, "\(repeated) aggregates with a client twice, \(single) without")
    }

    @Test func noiseHasTheRequestedSpread() {
        var generator = SeededGenerator(seed: 42)
        var values = [Float](repeating: 1, count: 200_001)
        GaussianNoise.add(standardDeviation: 3, to: &values, using: &generator)
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        // Mean 1 ± 4 standard errors (3/√n ≈ 0.0067); standard deviation 3 within 1%.
        #expect(abs(mean - 1) < 0.027, "mean \(mean)")
        #expect(abs(variance.squareRoot() - 3) < 0.03, "std \(variance.squareRoot())")
        // The odd last element got noise too.
        #expect(values.last != 1)
    }

    @Test func zeroNoiseLeavesTheSumAlone() {
        var values: [Float] = [1, 2, 3]
        GaussianNoise.add(standardDeviation: 0, to: &values)
        #expect(values == [1, 2, 3])
    }
}
