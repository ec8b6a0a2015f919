import FedCore
import Foundation
@testable import Privacy
import Testing

/// Local DP (issue 17, item 4): a client clips and noises its own delta, and accounts each
/// release as a Gaussian mechanism of sensitivity 2C, at sampling rate 1.
@Suite struct LocalDifferentialPrivacyTests {
    @Test func settingsNameTheOptionAtFault() {
        #expect(throws: DifferentialPrivacyError.invalid(option: "--ldp-clip", "must be a positive number, got 0.0")) {
            try LocalDifferentialPrivacy(clipNorm: 0, noiseMultiplier: 1)
        }
        // Zero noise is refused here (the central option allows it): the update would be in the clear.
        #expect(throws: DifferentialPrivacyError.invalid(option: "--ldp-noise-multiplier", "must be a positive number, got 0.0")) {
            try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 0)
        }
        #expect(throws: DifferentialPrivacyError.invalid(option: "--ldp-delta", "must be in (0, 1), got 0.0")) {
            try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, delta: 0)
        }
        #expect(throws: DifferentialPrivacyError.invalid(option: "--ldp-target-epsilon", "must be a positive number, got -3.0")) {
            try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: -3)
        }
        #expect(throws: DifferentialPrivacyError.invalid(option: "--ldp-sampling-rate", "must be in (0, 1], got 0.0")) {
            try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, unit: .record, samplingRate: 0)
        }
        #expect(throws: DifferentialPrivacyError.invalid(
            option: "--ldp-sampling-rate", "applies to --ldp-unit record only (an update is released whole)")) {
            try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, samplingRate: 0.1)
        }
    }

    /// Per record, an update's cost follows the client's rows (q = B / n, ⌈E / q⌉ steps, the
    /// sum divided by q·n = B, or by n below B rows), unless one rate is fixed for every
    /// client: then the cost and the divisor are the same whatever the rows.
    @Test func aRecordReleaseFollowsTheRowsUnlessTheRateIsFixed() throws {
        let byRows = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1.5, unit: .record)
        #expect(byRows.release(records: 1_000, batchSize: 50, epochs: 2) == .init(mechanism: .init(noiseMultiplier: 1.5, samplingRate: 0.05), steps: 40))
        #expect(byRows.release(records: 30, batchSize: 50, epochs: 2) == .init(mechanism: .init(noiseMultiplier: 1.5, samplingRate: 1), steps: 2))
        #expect(abs(byRows.stepDivisor(records: 1_000, batchSize: 50) - 50) < 1e-9)
        #expect(byRows.stepDivisor(records: 30, batchSize: 50) == 30)

        let fixed = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1.5, unit: .record, samplingRate: 0.04)
        for records in [3, 30, 1_000, 100_000] {
            #expect(fixed.release(records: records, batchSize: 50, epochs: 2) == .init(mechanism: .init(noiseMultiplier: 1.5, samplingRate: 0.04), steps: 50))
            #expect(fixed.stepDivisor(records: records, batchSize: 50) == 50)
        }
        #expect(fixed.summaryLine(each: fixed.release(records: 7, batchSize: 50, epochs: 2)).contains(
            "sampling rate 0.04 for every client (row counts stay private), one update (50 steps) costs each client"))
    }

    /// An update of norm 5e6 leaves with norm C plus the noise: the clip happens first.
    @Test func aLargeDeltaIsClippedBeforeTheNoise() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 1e-6)
        var delta: [Float] = [3e6, 4e6]
        var generator = SeededGenerator(seed: 7)
        let before = privacy.privatize(&delta, using: &generator)
        #expect(before == 5e6)
        let after = (Double(delta[0]) * Double(delta[0]) + Double(delta[1]) * Double(delta[1])).squareRoot()
        #expect(abs(after - 0.5) < 1e-4, "norm after \(after)")
        #expect(abs(Double(delta[0]) - 0.3) < 1e-4 && abs(Double(delta[1]) - 0.4) < 1e-4)
    }

    /// Each parameter gets N(0, (σC)²): over 200,000 parameters of a zero delta, the mean is
    /// about 0 and the spread σC within 1%.
    @Test func theNoiseHasSpreadSigmaTimesClip() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 4)
        var delta = [Float](repeating: 0, count: 200_000)
        var generator = SeededGenerator(seed: 11)
        privacy.privatize(&delta, using: &generator)
        let mean = delta.reduce(0.0) { $0 + Double($1) } / Double(delta.count)
        let spread = (delta.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(delta.count)).squareRoot()
        #expect(abs(mean) < 0.02, "mean \(mean)")
        #expect(abs(spread - 2) < 0.02, "spread \(spread)")
        // The production path draws from the system's generator: two draws differ.
        var first = [Float](repeating: 0, count: 8), second = first
        privacy.privatize(&first)
        privacy.privatize(&second)
        #expect(first != second && first.allSatisfy { $0 != 0 })
    }

    /// The production generator (a ChaCha20 keystream keyed from the kernel): its noise has the
    /// same spread over 200,000 parameters (several refills), its uniforms are uniform, and
    /// two generators never share a stream.
    @Test func theProductionGeneratorGivesTheSameNoise() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 4)
        var delta = [Float](repeating: 0, count: 200_000)
        privacy.privatize(&delta)
        let mean = delta.reduce(0.0) { $0 + Double($1) } / Double(delta.count)
        let spread = (delta.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(delta.count)).squareRoot()
        #expect(abs(mean) < 0.02 && abs(spread - 2) < 0.02, "mean \(mean), spread \(spread)")
        // 3σ of N(0,1) holds 99.73% of draws.
        let within = Double(delta.filter { abs($0) < 6 }.count) / Double(delta.count)
        #expect(abs(within - 0.9973) < 0.001, "\(within) within 3σ")

        var generator = BulkSystemRandom(), other = BulkSystemRandom()
        var buckets = [Int](repeating: 0, count: 16)
        var draws: [UInt64] = []
        for _ in 0..<100_000 {
            let draw = generator.next()
            buckets[Int(draw >> 60)] += 1
            if draws.count < 1_000 { draws.append(draw) }
        }
        // 6,250 expected a bucket; 5 standard deviations is ±375.
        #expect(buckets.allSatisfy { abs($0 - 6_250) < 375 }, "\(buckets)")
        #expect((0..<1_000).map { _ in other.next() } != draws)
    }

    /// ε of T releases is what the accountant gives T steps of the Gaussian mechanism at
    /// sampling rate 1 and noise multiplier σ/2 (noise σC over a sensitivity of 2C).
    @Test func releasesAreAccountedAsGaussianStepsOfHalfTheMultiplier() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 2)
        #expect(privacy.epsilon(releases: 0) == 0)
        for releases in [1, 2, 10] {
            var accountant = RDPAccountant()
            accountant.record(samplingRate: 1, noiseMultiplier: 1, steps: releases)
            #expect(privacy.epsilon(releases: releases) == accountant.epsilon(delta: 1e-5).epsilon)
        }
        #expect(privacy.epsilon(releases: 1) < privacy.epsilon(releases: 2))
    }

    /// Held against the exact privacy curve of the Gaussian mechanism (Balle & Wang 2018,
    /// Theorem 8; T Gaussian releases compose exactly into one with μ = (2/σ)·√T): the
    /// accountant's ε is sound (the exact δ at that ε is at most the δ asked for) and not
    /// loose by more than 25%.
    @Test func theAccountedEpsilonIsSoundAgainstTheExactGaussianCurve() throws {
        func phi(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
        func exactDelta(epsilon: Double, mu: Double) -> Double {
            phi(mu / 2 - epsilon / mu) - exp(epsilon) * phi(-mu / 2 - epsilon / mu)
        }
        for (sigma, releases) in [(1.0, 1), (2.0, 1), (2.0, 2), (4.0, 10), (8.0, 100)] {
            let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: sigma)
            let accounted = privacy.epsilon(releases: releases)
            let mu = 2 / sigma * Double(releases).squareRoot()
            #expect(exactDelta(epsilon: accounted, mu: mu) <= 1e-5, "σ \(sigma), T \(releases)")
            // The exact ε for δ = 1e-5, by bisection (δ(ε) decreases in ε).
            var (low, high) = (0.0, accounted)
            for _ in 0..<100 {
                let middle = (low + high) / 2
                if exactDelta(epsilon: middle, mu: mu) > 1e-5 { low = middle } else { high = middle }
            }
            #expect(high >= 0.75 * accounted, "σ \(sigma), T \(releases): exact \(high), accounted \(accounted)")
        }
    }

    /// The last release count within the target is the one whose ε fits and whose next does not.
    @Test func theBudgetAllowsExactlyTheReleasesThatFit() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 2, targetEpsilon: 8)
        let allowed = try #require(privacy.releasesWithinTarget)
        #expect(allowed == 2)
        #expect(privacy.epsilon(releases: allowed) <= 8 && privacy.epsilon(releases: allowed + 1) > 8)
        let many = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 20, targetEpsilon: 8)
        let manyAllowed = try #require(many.releasesWithinTarget)
        #expect(many.epsilon(releases: manyAllowed) <= 8 && many.epsilon(releases: manyAllowed + 1) > 8)
        #expect(try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 0.1, targetEpsilon: 8).releasesWithinTarget == 0)
        #expect(try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1).releasesWithinTarget == nil)

        var spend = LocalPrivacySpend()
        for _ in 0..<allowed {
            #expect(spend.permits(privacy.updateRelease, under: privacy))
            spend.record(privacy.updateRelease)
        }
        #expect(!spend.permits(privacy.updateRelease, under: privacy))
        #expect(spend.epsilon(under: privacy) == privacy.epsilon(releases: allowed))
    }

    /// Releases under another σ (a client restarted with other settings) compose with the rest.
    @Test func releasesUnderTwoMultipliersComposeAndSurviveCoding() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 4)
        let other = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 2)
        var spend = LocalPrivacySpend()
        spend.record(privacy.updateRelease)
        spend.record(other.updateRelease)
        spend.record(privacy.updateRelease)
        var accountant = RDPAccountant()
        accountant.record(samplingRate: 1, noiseMultiplier: 1, steps: 1)
        accountant.record(samplingRate: 1, noiseMultiplier: 2, steps: 2)
        #expect(abs(spend.epsilon(under: privacy) - accountant.epsilon(delta: 1e-5).epsilon) < 1e-12)
        #expect(spend.total == 3)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = try encoder.encode(spend)
        #expect(String(decoding: json, as: UTF8.self) == #"{"exhausted":false,"releases":3,"steps":[{"noise_multiplier":1,"sampling_rate":1,"steps":1},{"noise_multiplier":2,"sampling_rate":1,"steps":2}]}"#)
        #expect(try JSONDecoder().decode(LocalPrivacySpend.self, from: json) == spend)
        // The books' first form (update unit, σ in units of C) reads as the same spend.
        let first = Data(#"[{"noise_multiplier":2,"releases":1},{"noise_multiplier":4,"releases":2}]"#.utf8)
        #expect(try JSONDecoder().decode(LocalPrivacySpend.self, from: first) == spend)
        for bad in [#"[{"noise_multiplier":0,"releases":1}]"#,
                    #"{"releases":1,"steps":[{"noise_multiplier":1,"sampling_rate":1.5,"steps":1}]}"#,
                    #"{"releases":-1,"steps":[]}"#] {
            #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(LocalPrivacySpend.self, from: Data(bad.utf8)) }
        }
    }
}
