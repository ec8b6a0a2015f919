import Testing
@testable import Wire

@Suite struct AccumulateTests {
    /// The hot path must give exactly what decoding and then an axpy would, for every codec
    /// chain, at an even count and an odd one (int4 packs two values a byte).
    @Test(arguments: RoundTripTests.allCodecs + Int4Tests.codecs, [5000, 5001])
    func accumulateEqualsDecodeThenAxpy(codec: String, count: Int) throws {
        let envelope = try Envelope(bytes: Fixture.message(codec: codec, values: Fixture.update(count: count, seed: 8)))
        let start = Fixture.update(count: count, seed: 77)
        let weight: Float = 0.37
        var accumulated = start
        try envelope.accumulate(into: &accumulated, weight: weight)
        let decoded = envelope.decode()
        let expected = zip(start, decoded).map { $0 + weight * $1 }
        for index in 0..<count {
            #expect(abs(accumulated[index] - expected[index]) <= 1e-7 * max(1, abs(expected[index])), "index \(index)")
        }
        var raw = start
        try raw.withUnsafeMutableBufferPointer { try envelope.accumulate(into: $0, weight: weight) }
        #expect(raw == accumulated)
    }

    @Test func wrongAccumulatorSizeLeavesItUntouched() throws {
        let envelope = try Envelope(bytes: Fixture.message(codec: "int8", values: Fixture.update(count: 300, seed: 1)))
        var accumulator = [Float](repeating: 1, count: 299)
        #expect(throws: WireError.accumulatorSizeMismatch(expected: 300, actual: 299)) {
            try envelope.accumulate(into: &accumulator, weight: 1)
        }
        #expect(accumulator == [Float](repeating: 1, count: 299))
    }

    /// A worker decodes into its running sum; a bad update must not leave half of itself there.
    @Test(arguments: ["fp32", "fp16", "int8", "topk:0.01+int8"])
    func rejectedUpdateLeavesAccumulatorUntouched(codec: String) throws {
        let count = 2000
        var accumulator = Fixture.update(count: count, seed: 3)
        let before = accumulator
        let good = Fixture.message(codec: codec, values: Fixture.update(count: count, seed: 4))
        // Poison the last value (or the last scale) and reseal, so only value validation can catch it.
        var bad = good
        let poisonOffset: Int
        let spec = try CodecSpec(parsing: codec)
        switch spec.values {
        case is FP32Codec: poisonOffset = bad.count - 8
        case is FP16Codec: poisonOffset = bad.count - 6
        case is Int8Codec:
            // Layout ends with: scales, codes, CRC. Poison the last scale.
            let sent = spec.topkCount(parameterCount: count)
            poisonOffset = bad.count - 4 - sent - 4
        default: fatalError("no poison offset for \(spec)")
        }
        if codec == "fp16" { Fixture.put(UInt16(0x7E00), at: poisonOffset, in: &bad) } else {
            Fixture.put(Float.nan.bitPattern, at: poisonOffset, in: &bad)
        }
        bad = Fixture.resealed(bad)
        for message in [bad, Array(good.dropLast(3)), Fixture.resealed(Array(good.prefix(40)))] {
            do {
                let envelope = try Envelope(bytes: message)
                try envelope.accumulate(into: &accumulator, weight: 1)
                Issue.record("a bad message was accepted")
            } catch {
                #expect(!error.reasonCode.isEmpty)
            }
            #expect(accumulator == before)
        }
    }
}
