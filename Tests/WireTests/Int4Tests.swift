import Testing
@testable import Wire

/// The 4-bit codec: layout, error bounds, unbiased stochastic rounding, size, malformed input.
@Suite struct Int4Tests {
    static let codecs = ["int4", "int4:64", "int4:1024", "int4+deflate", "topk:0.01+int4", "topk:0.1+int4:256+deflate"]

    /// One step of the block the value at `position` (among the values sent) belongs to.
    static func step(_ sent: [Float], position: Int, blockSize: Int) -> Float {
        let block = position / blockSize
        return sent[(block * blockSize)..<min(sent.count, (block + 1) * blockSize)].map(abs).max()! / 7
    }

    @Test(arguments: codecs, [0, 1, 17, 1000, 4099])
    func roundTripErrorIsUnderOneStep(codecName: String, count: Int) throws {
        let values = Fixture.update(count: count, seed: UInt64(count) + 3)
        let envelope = try Envelope(bytes: Fixture.message(codec: codecName, values: values))
        #expect(envelope.header == Fixture.header(codec: codecName, count: count))
        let codec = try #require(envelope.header.codec.values as? Int4Codec)
        let decoded = envelope.decode()
        let k = envelope.header.codec.topkCount(parameterCount: count)
        let sentIndices =
            envelope.header.codec.topkFraction == nil
            ? Array(values.indices) : values.indices.sorted { abs(values[$0]) > abs(values[$1]) }.prefix(k).sorted()
        let sent = sentIndices.map { values[$0] }
        for (position, index) in sentIndices.enumerated() {
            let bound = Self.step(sent, position: position, blockSize: codec.blockSize) * 1.0001
            #expect(abs(decoded[index] - values[index]) <= bound, "index \(index): \(decoded[index]) vs \(values[index])")
        }
        let kept = Set(sentIndices)
        #expect(decoded.indices.filter { !kept.contains($0) }.allSatisfy { decoded[$0] == 0 })
    }

    /// The layout docs/wire-format.md describes, byte for byte: integers in -7...7 with a block
    /// maximum of 7 have scale 1 and encode exactly; value j sits in byte j/2, even j in the
    /// low nibble; an odd count leaves the last high nibble zero.
    @Test func byteLayoutMatchesTheDocument() throws {
        let values: [Float] = [7, -7, 3, -3, 0, 1, -1]
        let message = Fixture.message(codec: "int4:64", values: values)
        #expect(message[9] == 4)
        #expect(message[12] == 64 && message[13] == 0)
        let payload = Array(message[Envelope.headerByteCount..<(message.count - Envelope.trailerByteCount)])
        #expect(payload == [0x00, 0x00, 0x80, 0x3F, 0x97, 0xD3, 0x10, 0x0F])
        #expect(try Envelope(bytes: message).decode() == values)
    }

    /// The mean of many encodes converges to the input (E[decoded] = x).
    @Test func stochasticRoundingIsUnbiased() throws {
        let count = 128
        var values = (0..<count).map { Float($0 - 64) / 64 * 1e-3 }
        values[0] = 1e-3  // the block maximum: scale = 1e-3 / 7
        let draws = 4000
        var sum = [Double](repeating: 0, count: count)
        var generator = SplitMix64(seed: 13)
        let header = Fixture.header(codec: "int4", count: count)
        for _ in 0..<draws {
            let decoded = try Envelope(bytes: Envelope.encode(values, header: header, using: &generator)).decode()
            for index in 0..<count { sum[index] += Double(decoded[index]) }
        }
        let step = 1e-3 / 7
        for index in 0..<count {
            let mean = sum[index] / Double(draws)
            // One draw's standard deviation is at most step/2: 5 standard errors of the mean.
            #expect(abs(mean - Double(values[index])) <= 5 * step / 2 / Double(draws).squareRoot(), "index \(index)")
        }
    }

    @Test func roundingIsStochasticNotNearest() throws {
        var values = [Float](repeating: 0.25, count: 512)
        values[0] = 7  // one block of 512, scale 1: 0.25 rounds to 0 or 1, about a quarter of the time to 1
        var generator = SplitMix64(seed: 5)
        let message = try Envelope.encode(values, header: Fixture.header(codec: "int4:512", count: 512), using: &generator)
        let decoded = try Envelope(bytes: message).decode()
        #expect(decoded.dropFirst().allSatisfy { $0 == 0 || $0 == 1 })
        #expect((90...165).contains(decoded.dropFirst().filter { $0 == 1 }.count))
        #expect(Fixture.message(codec: "int4", values: values, seed: 4) == Fixture.message(codec: "int4", values: values, seed: 4))
    }

    /// At least 7.5× smaller than fp32 for the mlp's 199,210 parameters (exact sizes: the
    /// format fixes them).
    @Test func isAtLeast7_5xSmallerThanFP32OnTheMLP() throws {
        let values = Fixture.update(count: 199_210, seed: 1)
        let fp32 = Fixture.message(codec: "fp32", values: values).count
        let int4 = Fixture.message(codec: "int4", values: values).count
        #expect(fp32 == 796_932)
        #expect(int4 == 88 + 4 * 1557 + 99_605 + 4)
        #expect(Double(fp32) / Double(int4) >= 7.5)
        #expect(Double(Fixture.message(codec: "int8", values: values).count) / Double(int4) > 1.89)
    }

    @Test func specStringsParseAndPrintCanonically() throws {
        #expect(try CodecSpec(parsing: "INT4:128").description == "int4")
        #expect(try CodecSpec(parsing: "topk:0.01+int4:64+deflate").description == "topk:0.01+int4:64+deflate")
        #expect(try CodecSpec(parsing: "int4").values as? Int4Codec == Int4Codec(blockSize: 128))
        #expect(throws: CodecSpecError.invalidParameter(stage: "int4", value: "100")) { try CodecSpec(parsing: "int4:100") }
        #expect(throws: CodecSpecError.duplicateStage("int4")) { try CodecSpec(parsing: "int8+int4") }
        #expect(ValueCodecRegistry.codec(wireID: 4) == Int4Codec.self)
        #expect(ValueCodecRegistry.standardSpellings.contains("int4"))
    }

    @Test func malformedInputIsRejectedWithTypedErrors() {
        let payload = Envelope.headerByteCount
        let values = Fixture.update(count: 301, seed: 2)
        let message = Fixture.message(codec: "int4:64", values: values)  // 5 scales, 151 bytes of codes
        func mutated(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
            var copy = message
            change(&copy)
            return Fixture.resealed(copy)
        }
        #expect(Fixture.decodeError(message) == nil)
        #expect(
            Fixture.decodeError(mutated { Fixture.put(UInt16(100), at: 12, in: &$0) })
                == .invalidCodecParameter(field: .codecParameter, value: "100"))
        #expect(
            Fixture.decodeError(mutated { Fixture.put(UInt16(0), at: 12, in: &$0) })
                == .invalidCodecParameter(field: .codecParameter, value: "0"))
        #expect(Fixture.decodeError(mutated { Fixture.put(Float.nan.bitPattern, at: payload + 4, in: &$0) }) == .invalidScale(block: 1))
        #expect(Fixture.decodeError(mutated { Fixture.put(Float(-1).bitPattern, at: payload + 8, in: &$0) }) == .invalidScale(block: 2))
        #expect(
            Fixture.decodeError(mutated { Fixture.put(Float.greatestFiniteMagnitude.bitPattern, at: payload + 16, in: &$0) })
                == .invalidScale(block: 4))
        #expect(Fixture.decodeError(mutated { Fixture.put(Float.infinity.bitPattern, at: payload, in: &$0) }) == .invalidScale(block: 0))
        // 301 values: the high nibble of the last code byte is padding and must be zero.
        #expect(Fixture.decodeError(mutated { $0[$0.count - 5] |= 0x10 }) == .reservedNotZero(field: .values))
        // One code byte short, with every length field consistent: the codec layout no longer adds up.
        let short = mutated {
            $0.remove(at: $0.count - 5)
            let length = $0.count - payload - 4
            Fixture.put(UInt32(length), at: 80, in: &$0)
            Fixture.put(UInt32(length), at: 84, in: &$0)
        }
        #expect(Fixture.decodeError(short) == .lengthMismatch(field: .encodedLength, declared: 170, actual: 171))
        // A poisoned message never reaches the accumulator.
        #expect(Fixture.decodeError(Array(message.dropLast(2))) != nil)
        // Encoding refuses block sizes outside the format and non-finite values.
        var header = Fixture.header(codec: "int4", count: 2)
        header.codec.values = .int4(blockSize: 48)
        #expect(
            Fixture.error { () throws(WireError) in _ = try Envelope.encode([1, 2], header: header) }
                == .invalidCodecParameter(field: .codecParameter, value: "48"))
        #expect(
            Fixture.error { () throws(WireError) in _ = try Envelope.encode([1, .infinity], header: Fixture.header(codec: "int4", count: 2)) }
                == .unencodableValue(index: 1, value: .infinity))
    }
}
