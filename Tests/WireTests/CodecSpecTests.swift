import Testing
@testable import Wire

@Suite struct CodecSpecTests {
    @Test(arguments: [
        ("fp32", "fp32"), ("fp16", "fp16"), ("int8", "int8"), ("int8:512", "int8"), ("int8:256", "int8:256"),
        ("topk:0.01", "topk:0.01"), ("topk:0.01+fp32", "topk:0.01"), ("topk:0.01+int8", "topk:0.01+int8"),
        ("int8+deflate", "int8+deflate"), ("fp16+deflate", "fp16+deflate"), ("deflate", "fp32+deflate"),
        ("topk:0.05+int8:1024+deflate", "topk:0.05+int8:1024+deflate"), (" INT8 + deflate ", "int8+deflate"),
    ])
    func parsesToCanonicalForm(spec: String, canonical: String) throws {
        let parsed = try CodecSpec(parsing: spec)
        #expect(parsed.description == canonical)
        #expect(try CodecSpec(parsing: canonical) == parsed)
    }

    @Test(arguments: [
        ("", CodecSpecError.empty), ("int8+", .empty), ("gzip", .unknownStage("gzip")),
        ("topk", .missingParameter(stage: "topk")), ("topk:0", .invalidParameter(stage: "topk", value: "0")),
        ("topk:1.5", .invalidParameter(stage: "topk", value: "1.5")), ("topk:abc", .invalidParameter(stage: "topk", value: "abc")),
        ("int8:100", .invalidParameter(stage: "int8", value: "100")), ("fp16:2", .unexpectedParameter(stage: "fp16")),
        ("deflate:9", .unexpectedParameter(stage: "deflate")), ("int8+fp16", .duplicateStage("fp16")),
        ("deflate+deflate", .duplicateStage("deflate")), ("int8+topk:0.1", .stageOutOfOrder("topk")),
        ("deflate+int8", .stageOutOfOrder("int8")),
    ])
    func rejectsBadSpecs(spec: String, expected: CodecSpecError) {
        #expect(throws: expected) { try CodecSpec(parsing: spec) }
    }

    @Test func topkCountRoundsAndKeepsAtLeastOne() throws {
        let spec = try CodecSpec(parsing: "topk:0.01")
        #expect(spec.topkCount(parameterCount: 199_210) == 1992)
        #expect(spec.topkCount(parameterCount: 10) == 1)
        #expect(spec.topkCount(parameterCount: 0) == 0)
    }
}

@Suite struct CRC32CTests {
    /// Bit-at-a-time reference, the definition the table method must agree with.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = ~0
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    /// Lengths around one and two rounds of three streams, for both methods' segment sizes
    /// (512 bytes for the tables, 2,048 for the x86-64 instruction).
    static let lengths = [1, 7, 8, 9, 1535, 1536, 1537, 4096, 6143, 6144, 6145, 12_288, 12_295, 200_862]

    @Test(arguments: lengths)
    func matchesReferenceAcrossStreamBoundaries(length: Int) {
        let bytes = Self.randomBytes(length)
        #expect(CRC32C.checksum(bytes) == Self.reference(bytes))
        let split = length / 3
        let first = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<split])) }
        let whole = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[split...]), continuing: first) }
        #expect(whole == Self.reference(bytes))
    }

    /// The portable table method is what non-x86 machines run; it must agree on x86 too.
    @Test(arguments: lengths)
    func tableMethodMatchesReference(length: Int) {
        let bytes = Self.randomBytes(length)
        let split = length / 2
        let first = bytes.withUnsafeBytes { CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: $0[0..<split])) }
        let whole = bytes.withUnsafeBytes { CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: $0[split...]), continuing: first) }
        #expect(whole == Self.reference(bytes))
        #expect(bytes.withUnsafeBytes { CRC32C.tableChecksum($0) } == Self.reference(bytes))
    }

    private static func randomBytes(_ length: Int) -> [UInt8] {
        var generator = SplitMix64(seed: UInt64(length))
        return (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }
}
