import Foundation
import Synchronization

/// Rényi DP of the Poisson-subsampled Gaussian mechanism (Mironov 2017; Mironov, Talwar,
/// Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism",
/// arXiv:1908.10530), computed as Google's `dp_accounting` (the RDP accountant of
/// TensorFlow Privacy) computes it: integer orders by the binomial expansion of A_α in
/// log space, fractional orders by the two series of Sec. 3.3, cut off once their terms
/// are negligible. No Swift library does this; the tests hold it to `dp_accounting`'s values.
enum SampledGaussianRDP {
    /// Terms a fractional order may take before it is given up (its RDP is then +∞, which
    /// leaves it out of the ε minimisation), as in `dp_accounting`.
    static let maxFractionalTerms = 1000

    /// The RDP curve (one value per order) of one step. A run asks for the same few
    /// (q, σ) pairs over and over (q = K/population for every full buffer), and a
    /// fractional order can take a thousand terms: curves are remembered (at most 256).
    static func curve(q: Double, sigma: Double, orders: [Double]) -> [Double] {
        let key = CurveKey(q: q, sigma: sigma, orders: orders)
        if let known = curves.withLock({ $0[key] }) { return known }
        let computed = orders.map { rdp(q: q, sigma: sigma, order: $0) }
        curves.withLock {
            if $0.count >= 256 { $0.removeAll() }
            $0[key] = computed
        }
        return computed
    }

    private struct CurveKey: Hashable {
        var q: Double
        var sigma: Double
        var orders: [Double]
    }

    private static let curves = Mutex<[CurveKey: [Double]]>([:])

    /// RDP at order `alpha` of one step: sampling rate `q`, noise multiplier `sigma`.
    static func rdp(q: Double, sigma: Double, order alpha: Double) -> Double {
        if q == 0 { return 0 }
        if alpha.isInfinite || sigma == 0 { return .infinity }
        if q == 1 { return alpha / (2 * sigma * sigma) }
        let logA = alpha.rounded() == alpha ? logAInteger(q: q, sigma: sigma, alpha: Int(alpha)) : logAFractional(q: q, sigma: sigma, alpha: alpha)
        return logA / (alpha - 1)
    }

    /// log A_α for integer α: log Σᵢ C(α,i) qⁱ (1−q)^(α−i) exp((i²−i)/(2σ²)).
    static func logAInteger(q: Double, sigma: Double, alpha: Int) -> Double {
        var logA = -Double.infinity
        let logQ = log(q), log1mq = log1p(-q)
        for i in 0...alpha {
            let term = logBinomial(Double(alpha), Double(i)) + Double(i) * logQ + Double(alpha - i) * log1mq
                + Double(i * i - i) / (2 * sigma * sigma)
            logA = logAdd(logA, term)
        }
        return logA
    }

    /// log A_α for fractional α: the integrals over (−∞, z₀] and [z₀, ∞) as two series.
    static func logAFractional(q: Double, sigma: Double, alpha: Double) -> Double {
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        var lastS0 = -Double.infinity, lastS1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let logQ = log(q), log1mq = log1p(-q)
        for step in 0..<maxFractionalTerms {
            let i = Double(step)
            let logCoefficient = logBinomial(alpha, i)
            let j = alpha - i
            let logT0 = logCoefficient + i * logQ + j * log1mq
            let logT1 = logCoefficient + j * logQ + i * log1mq
            let logE0 = log(0.5) + logErfc((i - z0) / (2.0.squareRoot() * sigma))
            let logE1 = log(0.5) + logErfc((z0 - j) / (2.0.squareRoot() * sigma))
            let logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0
            let logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1
            logA0 = logAdd(logA0, logS0)
            logA1 = logAdd(logA1, logS1)
            let total = logAdd(logA0, logA1)
            if logS0 < lastS0, logS1 < lastS1, max(logS0, logS1) < total - 30 { return total }
            lastS0 = logS0
            lastS1 = logS1
        }
        return .infinity
    }

    /// The smallest ε over `orders` for which the RDP curve `rdp` gives (ε, δ)-DP: the
    /// conversion of Balle et al. 2020 (arXiv:2004.00010, Prop. 12), as `dp_accounting`'s
    /// `compute_epsilon` and Opacus's `get_privacy_spent` use it.
    static func epsilon(orders: [Double], rdp: [Double], delta: Double) -> (epsilon: Double, order: Double) {
        precondition(orders.count == rdp.count, "one RDP value per order")
        guard delta > 0 else { return (rdp.allSatisfy { $0 == 0 } ? 0 : .infinity, 0) }
        var best = (epsilon: Double.infinity, order: orders.first ?? 0)
        for (alpha, r) in zip(orders, rdp) {
            let epsilon: Double
            if r < 0 {
                epsilon = 0
            } else if delta * delta + expm1(-r) > 0 {
                epsilon = 0  // bounded through the KL divergence: δ ≤ √(1 − e^(−KL))
            } else if alpha > 1.01 {
                epsilon = r + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
            } else {
                epsilon = .infinity
            }
            if epsilon < best.epsilon { best = (epsilon, alpha) }
        }
        return (max(0, best.epsilon), best.order)
    }

    static func logAdd(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log C(n, k) through log|Γ| (n fractional: the generalised binomial's magnitude).
    static func logBinomial(_ n: Double, _ k: Double) -> Double {
        lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)
    }

    /// log erfc(x), accurate where erfc underflows (x beyond ~26): the Laurent series at
    /// infinity that `dp_accounting` falls back on.
    static func logErfc(_ x: Double) -> Double {
        let value = erfc(x)
        if value > 0 { return log(value) }
        let x2 = x * x
        return -log(Double.pi) / 2 - log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2)
            + 353.0 / 64.0 / (x2 * x2 * x2 * x2)
    }
}
