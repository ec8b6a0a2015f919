import Testing
@testable import Wire

/// Every way a message can be malformed, each with the exact typed error it must produce.
@Suite struct MalformedInputTests {
    static let count = 100
    static let values = Fixture.update(count: count, seed: 5)
    static var fp32: [UInt8] { Fixture.message(codec: "fp32", values: values) }
    static let payload = Envelope.headerByteCount

    /// A top-k message with known indices 3, 10, 20, 50, 99: varints 3, 7, 10, 30, 49 at bytes 96...100.
    static var topk: [UInt8] {
        var values = [Float](repeating: 1e-4, count: count)
        for index in [3, 10, 20, 50, 99] { values[index] = 1 }
        return Fixture.message(codec: "topk:0.05", values: values)
    }

    static func mutated(_ bytes: [UInt8], reseal: Bool = true, _ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = bytes
        change(&copy)
        return reseal ? Fixture.resealed(copy) : copy
    }

    @Test func validFixturesDecode() throws {
        #expect(Fixture.decodeError(Self.fp32) == nil)
        let topk = try Envelope(bytes: Self.topk).decode()
        #expect(topk.indices.filter { topk[$0] != 0 } == [3, 10, 20, 50, 99])
    }

    @Test func truncated() {
        #expect(Fixture.decodeError(Array(Self.fp32.prefix(2))) == .truncated(field: .magic, needed: 4, available: 2))
        #expect(Fixture.decodeError(Array(Self.fp32.prefix(5))) == .truncated(field: .formatVersion, needed: 6, available: 5))
        #expect(Fixture.decodeError(Array(Self.fp32.prefix(50))) == .truncated(field: .kind, needed: 92, available: 50))
        let full = Self.fp32.count
        #expect(Fixture.decodeError(Array(Self.fp32.dropLast())) == .truncated(field: .payload, needed: full, available: full - 1))
    }

    @Test func badMagic() {
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[0] = 0x47 }) == .badMagic(found: 0x5751_4447))
    }

    @Test func unknownVersionKindAndCodecs() {
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[4] = 2 }) == .unsupportedFormatVersion(2))
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[6] = 9 }) == .unknownKind(9))
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[7] = 1 }) == .reservedNotZero(field: .flags))
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[8] = 5 }) == .unknownCodec(field: .sparsifier, id: 5))
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[9] = 7 }) == .unknownCodec(field: .valueCodec, id: 7))
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[10] = 3 }) == .unknownCodec(field: .compression, id: 3))
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[11] = 1 }) == .reservedNotZero(field: .reserved))
        let int8 = Fixture.message(codec: "int8", values: Self.values)
        #expect(
            Fixture.decodeError(Self.mutated(int8) { Fixture.put(UInt16(300), at: 12, in: &$0) })
                == .invalidCodecParameter(field: .int8BlockSize, value: "300"))
        #expect(
            Fixture.decodeError(Self.mutated(Self.topk) { Fixture.put(Float(1.5).bitPattern, at: 16, in: &$0) })
                == .invalidCodecParameter(field: .topkFraction, value: "1.5"))
        #expect(
            Fixture.decodeError(Self.mutated(Self.fp32) { $0[6] = 3; $0[8] = 1; Fixture.put(Float(0.5).bitPattern, at: 16, in: &$0) })
                == .codecNotAllowed(kind: .modelVersion, codec: "topk:0.5"))
    }

    @Test func lengthMismatches() {
        let full = Self.fp32.count
        let payloadLength = full - Self.payload - 4
        #expect(
            Fixture.decodeError(Self.mutated(Self.fp32) { $0.append(0) })
                == .lengthMismatch(field: .payloadLength, declared: payloadLength, actual: payloadLength + 1))
        #expect(
            Fixture.decodeError(Self.mutated(Self.fp32) { Fixture.put(UInt32(396), at: 80, in: &$0) })
                == .lengthMismatch(field: .encodedLength, declared: 396, actual: payloadLength))
        // Payload shortened consistently everywhere: the codec layout no longer adds up.
        let short = Self.mutated(Self.fp32) {
            $0.removeSubrange((full - 8)..<(full - 4))
            Fixture.put(UInt32(payloadLength - 4), at: 80, in: &$0)
            Fixture.put(UInt32(payloadLength - 4), at: 84, in: &$0)
        }
        #expect(Fixture.decodeError(short) == .lengthMismatch(field: .encodedLength, declared: payloadLength - 4, actual: payloadLength))
        #expect(
            Fixture.decodeError(Self.mutated(Self.fp32) { Fixture.put(UInt32(8), at: 76, in: &$0) })
                == .truncated(field: .payload, needed: full + 8, available: full))
    }

    @Test func checksumMismatch() {
        let bytes = Self.mutated(Self.fp32, reseal: false) { $0[100] ^= 0x01 }
        guard case .checksumMismatch(let declared, let computed) = Fixture.decodeError(bytes) else {
            Issue.record("expected a checksum mismatch")
            return
        }
        #expect(declared != computed)
        #expect(computed == CRC32C.checksum(Array(bytes.dropLast(4))))
    }

    @Test func expectedModelMismatches() {
        #expect(
            Fixture.decodeError(Self.fp32, expecting: ModelExpectation(specHash: 1, parameterCount: Self.count))
                == .specHashMismatch(expected: 1, found: Fixture.specHash))
        #expect(
            Fixture.decodeError(Self.fp32, expecting: ModelExpectation(specHash: Fixture.specHash, parameterCount: 99))
                == .parameterCountMismatch(expected: 99, found: Self.count))
    }

    @Test func limits() {
        #expect(
            Fixture.decodeError(Self.fp32, limits: DecodeLimits(maxParameterCount: 50))
                == .limitExceeded(field: .parameterCount, value: 100, limit: 50))
        #expect(
            Fixture.decodeError(Self.fp32, limits: DecodeLimits(maxMessageBytes: 200))
                == .limitExceeded(field: .payloadLength, value: Self.fp32.count, limit: 200))
        // A deflate message cannot declare more codec output than the codec can produce.
        let deflated = Fixture.message(codec: "fp32+deflate", values: Self.values)
        #expect(
            Fixture.decodeError(Self.mutated(deflated) { Fixture.put(UInt32(1 << 30), at: 80, in: &$0) })
                == .limitExceeded(field: .encodedLength, value: 1 << 30, limit: 400))
        let partial = Fixture.message(codec: "fp32", values: Self.values, kind: .partialAggregate)
        #expect(
            Fixture.decodeError(partial, limits: DecodeLimits(maxPartialEntries: 4))
                == .limitExceeded(field: .updateCount, value: 5, limit: 4))
        // By default no partial may claim more entries than a worker can hold unacknowledged
        // (AMQP's prefetch is 16 bits): one claiming 65,535 updates and its 2 settled entries
        // is refused before anything is read or allocated for them (issue 16).
        #expect(DecodeLimits.default.maxPartialEntries == 65_536)
        #expect(
            Fixture.decodeError(Self.mutated(partial) { Fixture.put(UInt32(65_535), at: Self.payload + 16, in: &$0) })
                == .limitExceeded(field: .updateCount, value: 65_537, limit: 65_536))
    }

    /// The first settled entry of the fixture partial: after the 24-byte section head and
    /// three 32-byte update entries; its reason code sits 24 bytes in.
    static let firstSettledReason = payload + 24 + 3 * 32 + 24

    /// A partial as workers wrote it before entries carried checksums: `flags` 0 and
    /// 24-byte entries. It still decodes, its entries' checksums unknown (0).
    @Test func aPartialWithoutEntryChecksumsStillDecodes() throws {
        let current = Fixture.message(codec: "fp32", values: Self.values, kind: .partialAggregate)
        #expect(current[7] == 1)
        let entriesStart = Self.payload + 24
        var legacy = Array(current[..<entriesStart])
        for entry in 0..<3 { legacy += current[(entriesStart + 32 * entry)..<(entriesStart + 32 * entry + 24)] }
        legacy += current[(entriesStart + 96)...]
        legacy = Self.mutated(legacy) {
            $0[7] = 0
            let section = current[76..<80].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            Fixture.put(UInt32(section - 24), at: 76, in: &$0)
        }
        let decoded = try #require(try Envelope(bytes: legacy).partial)
        let original = try #require(try Envelope(bytes: current).partial)
        #expect(decoded.entries.map(\.updateID) == original.entries.map(\.updateID))
        #expect(decoded.entries.map(\.checksum) == [0, 0, 0])
        #expect(decoded.settled == original.settled)
        // The flag means nothing on other kinds, and an entry's reserved bytes must be zero.
        #expect(Fixture.decodeError(Self.mutated(Self.fp32) { $0[7] = 1 }) == .reservedNotZero(field: .flags))
        #expect(Fixture.decodeError(Self.mutated(current) { $0[entriesStart + 28] = 1 }) == .reservedNotZero(field: .section))
    }

    @Test func settledEntries() {
        let partial = Fixture.message(codec: "fp32", values: Self.values, kind: .partialAggregate)
        #expect(
            Fixture.decodeError(Self.mutated(partial) { $0[Self.firstSettledReason] = 0 })
                == .unknownSettlementCode(entry: 0, code: 0))
        #expect(
            Fixture.decodeError(Self.mutated(partial) { $0[Self.firstSettledReason] = 200 })
                == .unknownSettlementCode(entry: 0, code: 200))
        #expect(
            Fixture.decodeError(Self.mutated(partial) { $0[Self.firstSettledReason + 3] = 1 })
                == .reservedNotZero(field: .section))
        // The last four bytes are the refused message's checksum, any value.
        let other = Self.mutated(partial) { Fixture.put(UInt32(0x1234_5678), at: Self.firstSettledReason + 4, in: &$0) }
        #expect((try? Envelope(bytes: other))?.partial?.settled.first?.checksum == 0x1234_5678)
    }

    @Test func nonFiniteValues() {
        #expect(
            Fixture.decodeError(Self.mutated(Self.fp32) { Fixture.put(Float.nan.bitPattern, at: Self.payload + 4 * 7, in: &$0) })
                == .nonFinite(field: .values, index: 7))
        #expect(
            Fixture.decodeError(Self.mutated(Self.fp32) { Fixture.put((-Float.infinity).bitPattern, at: Self.payload + 4 * 99, in: &$0) })
                == .nonFinite(field: .values, index: 99))
        let fp16 = Fixture.message(codec: "fp16", values: Self.values)
        #expect(
            Fixture.decodeError(Self.mutated(fp16) { Fixture.put(UInt16(0x7C00), at: Self.payload + 2 * 42, in: &$0) })
                == .nonFinite(field: .values, index: 42))
        let int8 = Fixture.message(codec: "int8:256", values: Fixture.update(count: 600, seed: 1))
        #expect(
            Fixture.decodeError(Self.mutated(int8) { Fixture.put(Float.nan.bitPattern, at: Self.payload + 4, in: &$0) })
                == .invalidScale(block: 1))
        #expect(
            Fixture.decodeError(Self.mutated(int8) { Fixture.put(Float(-1).bitPattern, at: Self.payload + 8, in: &$0) })
                == .invalidScale(block: 2))
        #expect(
            Fixture.decodeError(Self.mutated(int8) { Fixture.put(Float.greatestFiniteMagnitude.bitPattern, at: Self.payload, in: &$0) })
                == .invalidScale(block: 0))
        let partial = Fixture.message(codec: "fp32", values: Self.values, kind: .partialAggregate)
        #expect(
            Fixture.decodeError(Self.mutated(partial) { Fixture.put(Double.infinity.bitPattern, at: Self.payload, in: &$0) })
                == .nonFinite(field: .weightTotal, index: 0))
    }

    @Test func topkIndexFaults() {
        // Gaps 3, 7, 10, 30, 49 at bytes 96...100.
        #expect(Fixture.decodeError(Self.mutated(Self.topk) { $0[97] = 0 }) == .topkIndexDuplicate(position: 1, index: 3))
        #expect(
            Fixture.decodeError(Self.mutated(Self.topk) { $0[100] = 50 })
                == .topkIndexOutOfRange(position: 4, index: 100, parameterCount: 100))
        #expect(
            Fixture.decodeError(Self.mutated(Self.topk) { $0[96] = 100 })
                == .topkIndexOutOfRange(position: 0, index: 100, parameterCount: 100))
        #expect(Fixture.decodeError(Self.mutated(Self.topk) { $0[100] = 0x80 }) == .badVarint(position: 4))
        // An overlong first varint swallows the second gap, so the fifth varint runs past the region.
        #expect(Fixture.decodeError(Self.mutated(Self.topk) { $0[96] = 0x83; $0[97] = 0x00 }) == .badVarint(position: 4))
        #expect(
            Fixture.decodeError(Self.mutated(Self.topk) { Fixture.put(UInt32(6), at: 88, in: &$0) })
                == .lengthMismatch(field: .values, declared: 20, actual: 24))
        #expect(
            Fixture.decodeError(Self.mutated(Self.topk) { Fixture.put(UInt32(101), at: 88, in: &$0) })
                == .limitExceeded(field: .topkCount, value: 101, limit: 100))
        #expect(
            Fixture.decodeError(Self.mutated(Self.topk) { Fixture.put(UInt32(500), at: 92, in: &$0) })
                == .lengthMismatch(field: .topkIndexBytes, declared: 500, actual: 25))
        // Five-byte varint whose value needs more than 32 bits.
        let wide = Self.mutated(Self.topk) {
            $0.replaceSubrange(96..<97, with: [0xFF, 0xFF, 0xFF, 0xFF, 0x1F])
            Fixture.put(UInt32(9), at: 92, in: &$0)
            Fixture.put(UInt32($0.count - Self.payload - 4), at: 80, in: &$0)
            Fixture.put(UInt32($0.count - Self.payload - 4), at: 84, in: &$0)
        }
        #expect(Fixture.decodeError(wide) == .badVarint(position: 0))
    }

    @Test func corruptDeflateStream() {
        let deflated = Fixture.message(codec: "int8+deflate", values: Self.values)
        let corrupt = Self.mutated(deflated) { for index in Self.payload..<(Self.payload + 6) { $0[index] = 0xFF } }
        guard case .decompressionFailed = Fixture.decodeError(corrupt) else {
            Issue.record("expected decompressionFailed, got \(String(describing: Fixture.decodeError(corrupt)))")
            return
        }
    }

    /// A deflate stream that inflates to more than the header declares (a bomb, or a lie) is
    /// stopped at the declared size: the inflater never gets a bigger buffer.
    @Test func deflateStreamLongerThanDeclaredIsRejected() {
        let deflated = Fixture.message(codec: "fp32+deflate", values: Self.values)
        let lying = Self.mutated(deflated) { Fixture.put(UInt32(100), at: 80, in: &$0) }
        switch Fixture.decodeError(lying) {
        case .decompressionFailed, .lengthMismatch(field: .encodedLength, declared: 100, actual: _): break
        case let other: Issue.record("expected a decompression failure, got \(String(describing: other))")
        }
    }

    @Test func sectionOnAnUpdateIsRejected() {
        let bytes = Self.mutated(Self.fp32) {
            $0.insert(contentsOf: [UInt8](repeating: 0, count: 8), at: Self.payload)
            Fixture.put(UInt32(8), at: 76, in: &$0)
        }
        #expect(Fixture.decodeError(bytes) == .lengthMismatch(field: .sectionLength, declared: 8, actual: 0))
    }
}
