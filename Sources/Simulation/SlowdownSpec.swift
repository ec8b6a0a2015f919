import FedCore
import Foundation
import Messaging
import Report
import Roles

/// Why a `--slowdown` spec was refused.
public enum SlowdownSpecError: Error, Equatable, CustomStringConvertible {
    case unknown(String)
    case badParameter(spec: String, reason: String)

    public var description: String {
        switch self {
        case .unknown(let spec):
            return "unknown slowdown '\(spec)': expected none, lognormal:SIGMA or stragglers:FRACTIONxFACTOR (e.g. stragglers:0.1x10)"
        case .badParameter(let spec, let reason):
            return "slowdown '\(spec)': \(reason)"
        }
    }
}

/// How much slower than the machine allows each simulated client trains.
///
/// Real fleets are heterogeneous: the slowest devices decide how long a
/// synchronous round takes, which is the case FedBuff was built for. The
/// simulation reproduces that by stretching each client's training time with
/// an injected delay of `(factor − 1) × measured training time`.
public enum SlowdownSpec: Sendable, Equatable, CustomStringConvertible {
    case none
    /// Per-client factor `exp(σ·z)`, z ~ N(0, 1), clamped below at 1 (nobody is faster than the hardware).
    case lognormal(sigma: Double)
    /// A fixed fraction of clients (chosen at random) is `factor` times slower.
    case stragglers(fraction: Double, factor: Double)

    public init(parsing spec: String) throws(SlowdownSpecError) {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first {
        case "none" where parts.count == 1:
            self = .none
        case "lognormal" where parts.count == 2:
            guard let sigma = Double(parts[1]), sigma >= 0, sigma.isFinite else {
                throw .badParameter(spec: spec, reason: "sigma must be a finite number >= 0")
            }
            self = .lognormal(sigma: sigma)
        case "stragglers" where parts.count == 2:
            let numbers = parts[1].split(separator: "x", omittingEmptySubsequences: false)
            guard numbers.count == 2, let fraction = Double(numbers[0]), let factor = Double(numbers[1]) else {
                throw .badParameter(spec: spec, reason: "expected FRACTIONxFACTOR, e.g. 0.1x10")
            }
            guard (0...1).contains(fraction) else { throw .badParameter(spec: spec, reason: "fraction must be in [0, 1]") }
            guard factor >= 1, factor.isFinite else { throw .badParameter(spec: spec, reason: "factor must be >= 1") }
            self = .stragglers(fraction: fraction, factor: factor)
        default:
            throw .unknown(spec)
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .lognormal(let sigma): return "lognormal:\(sigma)"
        case .stragglers(let fraction, let factor): return "stragglers:\(fraction)x\(factor)"
        }
    }

    /// One slowdown factor (≥ 1) per client, drawn once so a slow client stays slow.
    public func factors(clients: Int, using rng: inout some RandomNumberGenerator) -> [Double] {
        switch self {
        case .none:
            return Array(repeating: 1, count: clients)
        case .lognormal(let sigma):
            return (0..<clients).map { _ in max(1, exp(sigma * standardNormal(using: &rng))) }
        case .stragglers(let fraction, let factor):
            let slow = Set((0..<clients).shuffled(using: &rng).prefix(Int((fraction * Double(clients)).rounded())))
            return (0..<clients).map { slow.contains($0) ? factor : 1 }
        }
    }

    private func standardNormal(using rng: inout some RandomNumberGenerator) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng)
        let u2 = Double.random(in: 0..<1, using: &rng)
        return sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
    }
}
