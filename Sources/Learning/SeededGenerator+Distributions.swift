import Foundation

/// Samplers the partitioners and initialisers need; kept here so that every
/// random draw in the module goes through one seeded generator.
extension SeededGenerator {
    /// A standard normal draw (Box-Muller); used by tests and initialisers.
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextUnit(), 1e-300)
        let u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A Gamma(shape, 1) draw by Marsaglia and Tsang's method; shapes below 1
    /// use the boost Gamma(a) = Gamma(a + 1) * U^(1/a). Dirichlet draws are
    /// normalised Gamma draws.
    public mutating func nextGamma(shape: Double) -> Double {
        precondition(shape > 0, "Gamma shape must be positive")
        if shape < 1 {
            let u = max(nextUnit(), 1e-300)
            return nextGamma(shape: shape + 1) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0
            var v = 0.0
            repeat {
                x = nextGaussian()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = nextUnit()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if log(max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// A draw from the symmetric Dirichlet(alpha, ..., alpha) over `count` parts.
    public mutating func nextDirichlet(alpha: Double, count: Int) -> [Double] {
        var draws = (0..<count).map { _ in nextGamma(shape: alpha) }
        var total = draws.reduce(0, +)
        if total <= 0 {
            // Every gamma underflowed (tiny alpha): put all mass on one part.
            draws = Array(repeating: 0, count: count)
            draws[Int(next() % UInt64(count))] = 1
            total = 1
        }
        return draws.map { $0 / total }
    }
}
