import FedCore
import Foundation
@testable import Privacy
import Testing

/// The noise's normal sampler (`Ziggurat`): its samples follow N(0, 1) in the middle, in the
/// layers' slow paths and in the tail, within five standard errors over four million draws.
struct GaussianNoiseTests {
    static let draws = 4_000_000

    static func samples() -> [Double] {
        var generator = SeededGenerator(seed: 2026)
        return Ziggurat.tables.withUnsafeBufferPointers { x, f in
            (0..<draws).map { _ in Ziggurat.next(x: x, f: f, using: &generator) }
        }
    }

    static func phi(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

    @Test func theCumulativeDistributionIsTheNormalOne() {
        let values = Self.samples().sorted()
        let n = Double(values.count)
        // Both sides of every layer edge that matters, and both sides of the tail's start, r.
        for z in [-4.5, -Ziggurat.r, -3, -2, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2, 3, Ziggurat.r, 4.5] {
            var (low, high) = (0, values.count)
            while low < high {
                let middle = (low + high) / 2
                if values[middle] < z { low = middle + 1 } else { high = middle }
            }
            let expected = Self.phi(z)
            let standardError = (expected * (1 - expected) / n).squareRoot()
            #expect(abs(Double(low) / n - expected) <= 5 * standardError + 1e-7, "P(X < \(z)) = \(Double(low) / n), expected \(expected)")
        }
    }

    @Test func theMomentsAreTheNormalOnes() {
        let values = Self.samples()
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let variance = values.reduce(0) { $0 + $1 * $1 } / n
        let fourth = values.reduce(0) { $0 + $1 * $1 * $1 * $1 } / n
        // Standard errors: 1/√n for the mean, √(2/n) for the variance, √(96/n) for the fourth moment.
        #expect(abs(mean) < 5 / n.squareRoot(), "mean \(mean)")
        #expect(abs(variance - 1) < 5 * (2 / n).squareRoot(), "variance \(variance)")
        #expect(abs(fourth - 3) < 5 * (96 / n).squareRoot(), "fourth moment \(fourth)")
        // Symmetric: as many above 0 as below, within 5 standard errors.
        let positive = Double(values.count { $0 > 0 })
        #expect(abs(positive / n - 0.5) < 5 * (0.25 / n).squareRoot())
    }

    /// The layers' edges are those of equal areas: the last one's top is the density's top,
    /// and every layer (x[i] × (f[i+1] − f[i])) holds the same area as the base.
    @Test func theTablesCutEqualAreas() {
        let (x, f) = (Ziggurat.tables.x, Ziggurat.tables.f)
        #expect(x[1] == Ziggurat.r && x[256] == 0 && f[256] == 1)
        for i in 1..<255 {
            #expect(abs(x[i] * (f[i + 1] - f[i]) - Ziggurat.area) < 1e-12, "layer \(i)")
        }
        // The top layer ends within rounding of the density's peak (x = 0), as the constants promise.
        #expect(x[255] * (1 - f[255]) > 0.99 * Ziggurat.area && x[255] * (1 - f[255]) < 1.01 * Ziggurat.area)
    }
}
