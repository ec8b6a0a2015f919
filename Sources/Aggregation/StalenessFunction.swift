import Foundation

/// How much an update still counts once it is τ versions stale (FedAsync, Xie et al.
/// 2019, §5). Every function gives 1 at τ = 0, so fresh updates are never discounted and
/// synchronous FedAvg is the special case where τ is always 0.
public enum StalenessFunction: Sendable, Equatable, Codable, CustomStringConvertible {
    /// s(τ) = 1: every update counts fully, however stale.
    case constant
    /// s(τ) = (1 + τ)^−a.
    case polynomial(a: Double)
    /// s(τ) = 1 if τ ≤ b, else 1 / (a(τ − b) + 1).
    case hinge(a: Double, b: Double)
    /// s(τ) = e^(−aτ).
    case exponential(a: Double)

    /// The weight of an update that is `staleness` versions behind.
    public func weight(staleness: Int) -> Float {
        let tau = Double(max(0, staleness))
        return switch self {
        case .constant: 1
        case .polynomial(let a): Float(pow(1 + tau, -a))
        case .hinge(let a, let b): tau <= b ? 1 : Float(1 / (a * (tau - b) + 1))
        case .exponential(let a): Float(exp(-a * tau))
        }
    }

    /// The spec string this function parses from, so settings round-trip into reports.
    public var description: String {
        switch self {
        case .constant: "const"
        case .polynomial(let a): "poly:\(a.formatted)"
        case .hinge(let a, let b): "hinge:\(a.formatted),\(b.formatted)"
        case .exponential(let a): "exp:\(a.formatted)"
        }
    }
}

extension BinaryFloatingPoint where Self: LosslessStringConvertible {
    /// Shortest decimal form for spec strings: `0.5`, `4` rather than `4.0`, and a `Float`
    /// rate in its own digits (`1.1`, not the `1.100000023841858` of its widening to `Double`).
    var formatted: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
