import Testing
@testable import Wire

@Suite struct RoundTripTests {
    static let allCodecs = [
        "fp32", "fp16", "int8", "int8:256", "int8:1024", "fp32+deflate", "fp16+deflate", "int8+deflate",
        "topk:0.01", "topk:0.1+fp16", "topk:0.01+int8", "topk:0.05+int8:256+deflate", "topk:1",
    ]

    /// Largest |decoded − sent| a codec may introduce for the values it sends.
    static func tolerance(_ codec: CodecSpec, sent: [Float], blockOf index: Int) -> Float {
        switch codec.values {
        case is FP32Codec: return 0
        case is FP16Codec: return abs(sent[index]) * 0x1p-11 + 0x1p-24
        case let int8 as Int8Codec:
            let blockSize = int8.blockSize
            let block = index / blockSize
            let slice = sent[(block * blockSize)..<min(sent.count, (block + 1) * blockSize)]
            return slice.map(abs).max()! / 127 * 1.0001
        default: fatalError("no tolerance for \(codec)")
        }
    }

    @Test(arguments: allCodecs, [0, 1, 17, 1000, 4099])
    func clientUpdateRoundTrips(codecName: String, count: Int) throws {
        let values = Fixture.update(count: count, seed: UInt64(count))
        let bytes = Fixture.message(codec: codecName, values: values)
        let envelope = try Envelope(bytes: bytes, expecting: ModelExpectation(specHash: Fixture.specHash, parameterCount: count))
        #expect(envelope.header == Fixture.header(codec: codecName, count: count))
        #expect(envelope.partial == nil)
        let decoded = envelope.decode()
        #expect(decoded.count == count)
        let codec = envelope.header.codec
        let k = codec.topkCount(parameterCount: count)
        let kept: Set<Int>
        if codec.topkFraction != nil {
            // The kept entries are exactly the k largest magnitudes.
            let ranked = values.indices.sorted { abs(values[$0]) > abs(values[$1]) }
            kept = Set(ranked.prefix(k))
            #expect(decoded.indices.filter { !kept.contains($0) }.allSatisfy { decoded[$0] == 0 })
        } else {
            kept = Set(values.indices)
        }
        let sentIndices = kept.sorted()
        let sent = sentIndices.map { values[$0] }
        for (position, index) in sentIndices.enumerated() {
            let bound = Self.tolerance(codec, sent: sent, blockOf: position)
            #expect(abs(decoded[index] - values[index]) <= bound, "index \(index): \(decoded[index]) vs \(values[index])")
        }
        if codec == .fp32 { #expect(decoded == values) }
    }

    @Test(arguments: ["fp32", "fp16", "int8", "fp32+deflate"])
    func partialAggregateCarriesSummary(codec: String) throws {
        let values = Fixture.update(count: 777, seed: 3)
        let envelope = try Envelope(bytes: Fixture.message(codec: codec, values: values, kind: .partialAggregate))
        #expect(envelope.header.kind == .partialAggregate)
        let partial = try #require(envelope.partial)
        #expect(partial.weightTotal == 2.5)
        #expect(partial.updateCount == 3)
        #expect(partial.entries.map(\.baseVersion) == [40, 41, 42])
        #expect(partial.entries.map(\.checksum) == [0xC0DE_0000, 0xC0DE_0001, 0xC0DE_0002])
        #expect(Set(partial.entries.map(\.updateID)).count == 3)
        #expect(partial.settled.map(\.baseVersion) == [30, 41])
        #expect(partial.settled.map(\.reason) == [.stale, .nonFinite])
        // A refusal booked under its update id carries its message's checksum; 0: not known.
        #expect(partial.settled.map(\.checksum) == [0xFEED_0001, 0])
        #expect(Set(partial.settled.map(\.updateID) + partial.entries.map(\.updateID)).count == 5)
    }

    @Test func modelVersionCarriesFullVector() throws {
        let values = Fixture.update(count: 2048, seed: 9)
        let envelope = try Envelope(bytes: Fixture.message(codec: "fp32", values: values, kind: .modelVersion))
        #expect(envelope.header.kind == .modelVersion)
        #expect(envelope.header.modelVersion == 42)
        #expect(envelope.decode() == values)
    }

    @Test func fp16RoundsSpecialMagnitudesExactly() throws {
        let values: [Float] = [0, -0, 1, -2, 65504, -65504, 0x1p-24, 0x1p-14, 1.0009765625, 1 + 0x1p-12, 3.14159]
        let decoded = try Envelope(bytes: Fixture.message(codec: "fp16", values: values)).decode()
        #expect(decoded == values.map { Float(Float16($0)) })
    }

    @Test func fp16RefusesValuesBeyondRange() {
        let error = Fixture.error { () throws(WireError) in _ = try Envelope.encode([1, 70000], header: Fixture.header(codec: "fp16", count: 2)) }
        #expect(error == .unencodableValue(index: 1, value: 70000))
    }

    @Test func encodeRefusesNonFiniteInput() {
        let error = Fixture.error { () throws(WireError) in _ = try Envelope.encode([1, 2, .nan], header: Fixture.header(codec: "int8", count: 3)) }
        guard case .unencodableValue(let index, let value) = error else {
            Issue.record("expected unencodableValue, got \(String(describing: error))")
            return
        }
        #expect(index == 2 && value.isNaN)
    }

    @Test func topkOnModelVersionIsRefused() {
        let error = Fixture.error { () throws(WireError) in
            _ = try Envelope.encode([1, 2], header: Fixture.header(kind: .modelVersion, codec: "topk:0.5", count: 2))
        }
        #expect(error == .codecNotAllowed(kind: .modelVersion, codec: "topk:0.5"))
    }

    @Test func encodeRefusesCodecParametersOutsideTheFormat() {
        var header = Fixture.header(codec: "int8", count: 2)
        header.codec.values = .int8(blockSize: 0)
        #expect(Fixture.error { () throws(WireError) in _ = try Envelope.encode([1, 2], header: header) }
            == .invalidCodecParameter(field: .int8BlockSize, value: "0"))
        header.codec = CodecSpec(topkFraction: 2)
        #expect(Fixture.error { () throws(WireError) in _ = try Envelope.encode([1, 2], header: header) }
            == .invalidCodecParameter(field: .topkFraction, value: "2.0"))
    }

    @Test func int8CompressesAtLeast3_9x() throws {
        let values = Fixture.update(count: 199_210, seed: 1)
        let fp32 = Fixture.message(codec: "fp32", values: values).count
        #expect(Double(fp32) / Double(Fixture.message(codec: "int8", values: values).count) >= 3.9)
        #expect(Double(fp32) / Double(Fixture.message(codec: "topk:0.01+int8", values: values).count) >= 32)
    }

    @Test func updateIDAndPropertiesMirrorHeader() throws {
        let header = Fixture.header(codec: "topk:0.01+int8", count: 10)
        #expect(UpdateID(hex: header.updateID.hex) == header.updateID)
        #expect(UpdateID(hex: "xyz") == nil)
        let properties = MessageProperties(header: header)
        #expect(properties.messageID == header.updateID.hex)
        #expect(properties.contentType == "application/x-fedq-update")
        #expect(properties.contentEncoding == "topk:0.01+int8")
        #expect(properties.headers[MessageProperties.HeaderName.specHash] == "fedcba9876543210")
        #expect(properties.headers[MessageProperties.HeaderName.modelVersion] == "42")
    }
}

@Suite struct RestampTests {
    @Test func restampedMessageDecodesUnderItsNewIDWithTheSamePayload() throws {
        let values = Fixture.update(count: 1000, seed: 5)
        let original = Fixture.message(codec: "int8", values: values)
        let id = UpdateID.random()
        let restamped = try Envelope.restamped(original, updateID: id)
        let before = try Envelope(bytes: original)
        let after = try Envelope(bytes: restamped)
        #expect(after.header.updateID == id && before.header.updateID != id)
        #expect(after.decode() == before.decode())
        #expect(Fixture.error { () throws(WireError) in _ = try Envelope.restamped([1, 2, 3], updateID: id) } != nil)
    }
}

/// The norm a worker clips by, read off each codec's bytes, equals the decoded vector's.
struct EnvelopeNormTests {
    @Test(arguments: ["fp32", "fp16", "int8", "int8:256", "int4", "topk:0.1+int8", "int8+deflate"])
    func theNormOffTheBytesIsTheDecodedVectorsNorm(codec: String) throws {
        let envelope = try Envelope(bytes: Fixture.message(codec: codec, values: Fixture.update(count: 3_000, seed: 8)))
        let decoded = envelope.decode().reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(envelope.l2Norm() - decoded) <= 1e-6 * decoded, "\(codec): \(envelope.l2Norm()) vs \(decoded)")
    }
}
