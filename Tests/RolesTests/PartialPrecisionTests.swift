@testable import Roles
import Testing
import Wire

/// Which codec a partial's sum travels in, and what the fp16 choice costs.
@Suite struct PartialPrecisionTests {
    @Test func aSumOfLossyUpdatesIsSentAsFP16WithinTheHalfRoundingError() throws {
        let sum: [Float] = [0.125, -3.3e-3, 7.77e-5, 1.2e-7, 0, 1234.5678, -65504]
        let codec = PartialPrecision.codec(for: sum, holdsExactUpdates: false)
        #expect(codec == PartialPrecision.reduced)
        let header = MessageHeader(kind: .partialAggregate, specHash: 1, modelVersion: 0, parameterCount: sum.count, codec: codec)
        let body = try Envelope.encode(sum, header: header, partial: PartialAggregateSummary(weightTotal: 1, massTotal: 1, entries: []))
        #expect(body.count < Envelope.headerByteCount + 64 + 4 * sum.count)
        let decoded = try Envelope(bytes: body).decode()
        for (sent, received) in zip(sum, decoded) {
            // Round to nearest: half an ulp of a normal half, 2^-25 in the subnormal range.
            #expect(abs(sent - received) <= max(abs(sent) * 0x1p-11, 0x1p-25), "\(sent) came back as \(received)")
        }
    }

    @Test func anExactUpdateInTheSumOrAValueBeyondAHalfKeepsFP32() {
        #expect(PartialPrecision.codec(for: [0.5, 0.25], holdsExactUpdates: true) == .fp32)
        #expect(PartialPrecision.codec(for: [0.5, 65520], holdsExactUpdates: false) == .fp32)
        #expect(PartialPrecision.codec(for: [-70000, 0.5], holdsExactUpdates: false) == .fp32)
    }
}
