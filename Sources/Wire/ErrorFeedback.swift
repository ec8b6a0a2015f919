/// Client-side error feedback (Seide et al. 2014; Karimireddy et al. 2019): whatever a lossy
/// codec did not send this round (dropped top-k entries, quantisation error) is added to the
/// next update, so over many rounds the sum of what was sent tracks the sum of true updates and
/// compression does not bias training.
public struct ErrorFeedback: Sendable {
    /// How the residual is kept between a client's updates.
    public enum Storage: String, Sendable, CaseIterable, CustomStringConvertible {
        /// fp32, 4 bytes per parameter: exactly what was left out.
        case fp32
        /// ``CompactResidual``, 1.016 bytes per parameter: what was left out up to one int8
        /// step per value, stochastically rounded (the default: see ``CompactResidual`` for
        /// why, BENCHMARKS.md "10,000 clients" for what it costs).
        case int8

        public var description: String { rawValue }
    }

    private enum Held: Sendable {
        case fp32([Float])
        case int8(CompactResidual)
    }

    private var held: Held
    /// The number of parameters the residual covers.
    public let parameterCount: Int

    public init(parameterCount: Int, storage: Storage = .int8) {
        self.parameterCount = parameterCount
        switch storage {
        case .fp32: held = .fp32([Float](repeating: 0, count: parameterCount))
        case .int8: held = .int8(CompactResidual(zeros: parameterCount))
        }
    }

    public var storage: Storage {
        switch held {
        case .fp32: .fp32
        case .int8: .int8
        }
    }

    /// The part of past updates not yet sent (decoded, for the int8 storage).
    public var residual: [Float] {
        switch held {
        case .fp32(let values): values
        case .int8(let compact): compact.values
        }
    }

    /// Bytes the residual occupies between updates.
    public var byteCount: Int {
        switch held {
        case .fp32(let values): values.count * MemoryLayout<Float>.size
        case .int8(let compact): compact.byteCount
        }
    }

    /// Encodes `delta + residual` and keeps what the message does not carry as the new residual.
    ///
    /// The residual is computed against the message as the receiver will decode it, so it also
    /// absorbs int8/fp16 rounding, not just the entries top-k dropped.
    /// - Throws: ``WireError`` when the corrected update cannot be encoded; the residual is then unchanged.
    public mutating func encode(
        _ delta: [Float], header: MessageHeader, using generator: inout some RandomNumberGenerator
    ) throws(WireError) -> [UInt8] {
        guard delta.count == parameterCount else {
            throw .inconsistentInput(field: .parameterCount, reason: "feedback holds \(parameterCount) values, delta has \(delta.count)")
        }
        var corrected = delta
        switch held {
        case .fp32(let values): for index in corrected.indices { corrected[index] += values[index] }
        case .int8(let compact): compact.add(to: &corrected)
        }
        let message = try Envelope.encode(corrected, header: header, using: &generator)
        let sent = try Envelope(bytes: message).decode()
        for index in corrected.indices { corrected[index] -= sent[index] }
        switch held {
        case .fp32: held = .fp32(corrected)
        case .int8:
            var random = VectorRandom(seed: generator.next())
            held = .int8(CompactResidual(corrected, random: &random))
        }
        return message
    }

    /// ``encode(_:header:using:)`` with the system random generator.
    public mutating func encode(_ delta: [Float], header: MessageHeader) throws(WireError) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return try encode(delta, header: header, using: &generator)
    }
}
