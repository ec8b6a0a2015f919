import FedCore
import Foundation
import Learning
import Wire

/// One malicious client's behaviour, as issue 16 tried it against a deployment: every
/// message well-formed and correctly checksummed unless the kind says otherwise. The
/// attack benchmark (`scripts/bench-attacks.sh`) runs each against the defences and
/// without them; `Adversary` sends them.
public struct AttackSpec: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// Every value 1e30: finite, encodable, and once enough to wreck the model.
        case explode
        /// Every value 3e38: four of them overflowed the coordinator's sum.
        case overflow
        /// Model replacement (Bagdasaryan et al. 2020): Δ = −boost·x, which, averaged over a
        /// buffer of `boost` updates, replaces the global model x with zero.
        case replace
        /// A claimed sample count of 2^63 (with a replacement delta): once a worker crash.
        case samplesMax = "samples-max"
        /// A claimed 2^23 samples (under the maximum) with a replacement delta: with
        /// `--weigh-by-samples` it once took most of every aggregate.
        case samples
        /// A base version of 10^9 (with a replacement delta): once made every honest update stale.
        case future
        /// Alternately an update and, under the same id, a replacement: once cost an honest update.
        case replay
        /// Replacement deltas under a fresh update id and a fresh client id each time, the
        /// flood of identities an unsigned federation cannot tell apart.
        case sybil
        /// Random bytes: malformed.
        case garbage
    }

    public var kind: Kind
    /// Messages per second.
    public var perSecond: Double

    public init(kind: Kind, perSecond: Double = 1) {
        self.kind = kind
        self.perSecond = perSecond
    }

    /// Parses `KIND[@RATE]`, e.g. `explode`, `sybil@5`.
    public init(parsing text: String) throws(AttackSpecError) {
        let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
        guard let name = parts.first, let kind = Kind(rawValue: name) else { throw .unknownKind(text) }
        var rate = 1.0
        if parts.count == 2 {
            guard let parsed = Double(parts[1]), parsed > 0, parsed.isFinite else { throw .badRate(text) }
            rate = parsed
        }
        self.init(kind: kind, perSecond: rate)
    }

    public var description: String { "\(kind.rawValue)@\(perSecond.formatted())" }

    /// The client id the adversary speaks as (one past the honest clients).
    public static func clientID(clients: Int) -> UInt64 { UInt64(clients) }

    /// The `sequence`-th message of this attack against `model`: its bytes, and the update
    /// id it claims (nil for garbage).
    /// - Parameter previous: the id of the attack's previous message (for `replay`).
    public func message(
        _ sequence: Int, model: GlobalModel, spec: ModelSpec, clientID: UInt64, previous: UpdateID?,
        generator: inout SeededGenerator
    ) throws(WireError) -> (body: [UInt8], id: UpdateID?) {
        let boost: Float = 10
        let replacement = model.parameters.map { -boost * $0 }
        var values = replacement
        var header = MessageHeader(
            kind: .clientUpdate, specHash: spec.hash, modelVersion: model.version, updateID: .random(using: &generator),
            clientID: clientID, sampleCount: 600, localSteps: 1, parameterCount: spec.parameterCount, codec: .fp32)
        switch kind {
        case .explode: values = [Float](repeating: 1e30, count: spec.parameterCount)
        case .overflow: values = [Float](repeating: 3e38, count: spec.parameterCount)
        case .replace: break
        case .samplesMax:
            header.sampleCount = 1 << 63
            values = model.parameters.map { -$0 }
        case .samples:
            header.sampleCount = 1 << 23
            values = model.parameters.map { -$0 }
        case .future: header.modelVersion = 1_000_000_000
        case .replay:
            if sequence % 2 == 1, let previous {
                header.updateID = previous
            } else {
                values = [Float](repeating: 0, count: spec.parameterCount)
            }
        case .sybil: header.clientID = UInt64.random(in: 1 << 32...UInt64.max, using: &generator)
        case .garbage:
            return ((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }, nil)
        }
        return (try Envelope.encode(values, header: header), header.updateID)
    }
}

public enum AttackSpecError: Error, Equatable, CustomStringConvertible {
    case unknownKind(String)
    case badRate(String)

    public var description: String {
        switch self {
        case .unknownKind(let text):
            "'\(text)': expected KIND[@RATE] with KIND one of \(AttackSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
        case .badRate(let text): "'\(text)': the rate after @ must be a positive number of messages per second"
        }
    }
}
