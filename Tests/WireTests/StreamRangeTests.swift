import Testing
@testable import Wire

/// A stream partial's range: its bytes at the end of the section, flag 4 beside 1, and
/// the refusals a reader gives a bad one.
@Suite struct StreamRangeTests {
    static let range = PartialAggregateSummary.StreamRange(shard: 3, claim: 0xDEAD_BEEF_0123_4567, first: 1_000, last: 1_063)

    static func partial(_ range: PartialAggregateSummary.StreamRange?) throws -> [UInt8] {
        let summary = PartialAggregateSummary(
            weightTotal: 1.5, massTotal: 2, entries: [.init(updateID: .random(), baseVersion: 7, checksum: 9)],
            settled: [.init(updateID: .random(), baseVersion: 6, reason: .stale)], streamRange: range)
        let header = MessageHeader(kind: .partialAggregate, specHash: 42, modelVersion: 8, parameterCount: 4, codec: .fp32)
        return try Envelope.encode([1, 2, 3, 4], header: header, partial: summary)
    }

    @Test func aRangeTravelsAtTheEndOfTheSectionUnderFlag4() throws {
        let with = try Self.partial(Self.range)
        let without = try Self.partial(nil)
        #expect(with.count == without.count + 32)
        #expect(with[7] == 5 && without[7] == 1)
        let decoded = try Envelope(bytes: with)
        #expect(decoded.partial?.streamRange == Self.range)
        #expect(decoded.partial?.settled.first?.reason == .stale)
        #expect(try Envelope(bytes: without).partial?.streamRange == nil)
        // Little-endian, as every field: shard at the range's byte 0, claim at 8, first at 16, last at 24.
        let start = Envelope.headerByteCount + 24 + 32 + 32
        #expect(Array(with[start..<(start + 4)]) == [3, 0, 0, 0])
        #expect(Array(with[(start + 8)..<(start + 16)]) == [0x67, 0x45, 0x23, 0x01, 0xEF, 0xBE, 0xAD, 0xDE])
        #expect(Array(with[(start + 16)..<(start + 18)]) == [0xE8, 0x03])
    }

    @Test func aRangeThatEndsBeforeItStartsIsRefusedBothWays() throws {
        var backwards = Self.range
        backwards.first = 2_000
        #expect(throws: WireError.invalidStreamRange(first: 2_000, last: 1_063)) { _ = try Self.partial(backwards) }
        // Forged on the wire: swap first and last in a good message and fix its checksum.
        var bytes = try Self.partial(Self.range)
        let start = Envelope.headerByteCount + 24 + 32 + 32
        let first = Array(bytes[(start + 16)..<(start + 24)])
        bytes.replaceSubrange((start + 16)..<(start + 24), with: bytes[(start + 24)..<(start + 32)])
        bytes.replaceSubrange((start + 24)..<(start + 32), with: first)
        bytes = Fixture.resealed(bytes)
        #expect(throws: WireError.invalidStreamRange(first: 1_063, last: 1_000)) { _ = try Envelope(bytes: bytes) }
    }

    @Test func flag4WithoutTheRangeBytesOrOnAnUpdateIsRefused() throws {
        var flagged = try Self.partial(nil)
        flagged[7] = 5
        flagged = Fixture.resealed(flagged)
        #expect(throws: WireError.lengthMismatch(field: .sectionLength, declared: 24 + 32 + 32, actual: 24 + 32 + 32 + 32)) {
            _ = try Envelope(bytes: flagged)
        }
        var reserved = try Self.partial(Self.range)
        reserved[Envelope.headerByteCount + 24 + 32 + 32 + 4] = 1
        reserved = Fixture.resealed(reserved)
        #expect(throws: WireError.reservedNotZero(field: .section)) { _ = try Envelope(bytes: reserved) }
        var update = Fixture.message(codec: "fp32", values: [1, 2, 3, 4])
        update[7] = 4
        update = Fixture.resealed(update)
        #expect(throws: WireError.reservedNotZero(field: .flags)) { _ = try Envelope(bytes: update) }
    }
}
