/// Client-side error feedback (Seide et al. 2014; Karimireddy et al. 2019): whatever a lossy
/// codec did not send this round (dropped top-k entries, quantisation error) is added to the
/// next update, so over many rounds the sum of what was sent tracks the sum of true updates and
/// compression does not bias training.
public struct ErrorFeedback: Sendable {
    /// The part of past updates not yet sent.
    public private(set) var residual: [Float]

    public init(parameterCount: Int) {
        residual = [Float](repeating: 0, count: parameterCount)
    }

    /// Encodes `delta + residual` and keeps what the message does not carry as the new residual.
    ///
    /// The residual is computed against the message as the receiver will decode it, so it also
    /// absorbs int8/fp16 rounding, not just the entries top-k dropped.
    /// - Throws: ``WireError`` when the corrected update cannot be encoded; the residual is then unchanged.
    public mutating func encode(
        _ delta: [Float], header: MessageHeader, using generator: inout some RandomNumberGenerator
    ) throws(WireError) -> [UInt8] {
        guard delta.count == residual.count else {
            throw .inconsistentInput(field: .parameterCount, reason: "feedback holds \(residual.count) values, delta has \(delta.count)")
        }
        var corrected = residual
        for index in corrected.indices { corrected[index] += delta[index] }
        let message = try Envelope.encode(corrected, header: header, using: &generator)
        let sent = try Envelope(bytes: message).decode()
        for index in corrected.indices { corrected[index] -= sent[index] }
        residual = corrected
        return message
    }

    /// ``encode(_:header:using:)`` with the system random generator.
    public mutating func encode(_ delta: [Float], header: MessageHeader) throws(WireError) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return try encode(delta, header: header, using: &generator)
    }
}
