import Testing
@testable import Wire

/// Entries that name their client: 40 bytes under `flags` bit 3, written whenever every entry
/// has one, read back as written; an older partial's 32-byte entries still read, clientless.
@Suite struct ClientEntryTests {
    static func partial(clients: [UInt64?], range: PartialAggregateSummary.StreamRange? = nil) throws -> [UInt8] {
        let summary = PartialAggregateSummary(
            weightTotal: 2, massTotal: 2,
            entries: clients.enumerated().map { .init(updateID: .random(), baseVersion: UInt64($0.offset), checksum: 9, clientID: $0.element) },
            settled: [.init(updateID: .random(), baseVersion: 6, reason: .rateLimited)], streamRange: range)
        let header = MessageHeader(kind: .partialAggregate, specHash: 42, modelVersion: 8, parameterCount: 4, codec: .fp32)
        return try Envelope.encode([1, 2, 3, 4], header: header, partial: summary)
    }

    @Test func entriesWithClientsTravelUnderFlag8AndComeBackAsWritten() throws {
        let named = try Self.partial(clients: [0xAB_CDEF_0123_4567, 0])
        let clientless = try Self.partial(clients: [5, nil])
        #expect(named[7] == 9 && clientless[7] == 1)
        #expect(named.count == clientless.count + 2 * 8)
        let decoded = try #require(try Envelope(bytes: named).partial)
        #expect(decoded.entries.map(\.clientID) == [0xAB_CDEF_0123_4567, 0])
        #expect(decoded.entries.map(\.baseVersion) == [0, 1] && decoded.entries.map(\.checksum) == [9, 9])
        #expect(decoded.settled.map(\.reason) == [.rateLimited])
        // The client is the entry's last 8 bytes, little-endian.
        let start = Envelope.headerByteCount + 24 + 32
        #expect(Array(named[start..<(start + 8)]) == [0x67, 0x45, 0x23, 0x01, 0xEF, 0xCD, 0xAB, 0])
        #expect(try Envelope(bytes: clientless).partial?.entries.map(\.clientID) == [nil, nil])
        // With a stream range too: flags 13.
        let ranged = try Self.partial(clients: [1], range: StreamRangeTests.range)
        #expect(ranged[7] == 13)
        #expect(try Envelope(bytes: ranged).partial?.streamRange == StreamRangeTests.range)
    }

    @Test func flag8WithoutTheClientBytesOrOnAnUpdateIsRefused() throws {
        var flagged = try Self.partial(clients: [5, nil])
        flagged[7] = 9
        flagged = Fixture.resealed(flagged)
        #expect(throws: WireError.lengthMismatch(field: .sectionLength, declared: 24 + 64 + 32, actual: 24 + 80 + 32)) {
            _ = try Envelope(bytes: flagged)
        }
        var update = Fixture.message(codec: "fp32", values: [1, 2, 3, 4])
        update[7] = 8
        update = Fixture.resealed(update)
        #expect(throws: WireError.reservedNotZero(field: .flags)) { _ = try Envelope(bytes: update) }
        var alone = try Self.partial(clients: [5])
        alone[7] = 8
        alone = Fixture.resealed(alone)
        #expect(throws: WireError.reservedNotZero(field: .flags)) { _ = try Envelope(bytes: alone) }
    }
}
