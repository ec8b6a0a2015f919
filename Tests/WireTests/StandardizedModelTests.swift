import Testing

@testable import Wire

/// A table federation's model version carries its standardisation in the envelope's section
/// (flag 2): inside the CRC, so a changed mean is refused as a checksum mismatch, and
/// (through the message signature) inside what the coordinator signs.
@Suite struct StandardizedModelTests {
    static let scaling = Standardization(means: [0.5, -3, 120], deviations: [1, 0.25, 40])
    static let parameters = Fixture.update(count: 300, seed: 11)

    static func model(_ scaling: Standardization? = scaling) throws -> [UInt8] {
        try Envelope.encode(
            parameters, header: Fixture.header(kind: .modelVersion, codec: "fp32", count: parameters.count), standardization: scaling)
    }

    static let expectation = ModelExpectation(specHash: Fixture.specHash, parameterCount: 300, featureCount: 3)

    @Test func aModelVersionCarriesItsStandardizationThroughTheWire() throws {
        let bytes = try Self.model()
        #expect(bytes[7] == Envelope.standardizationFlag)
        #expect(bytes.count == Envelope.headerByteCount + (4 + 8 * 3) + 4 * 300 + Envelope.trailerByteCount)
        let envelope = try Envelope(bytes: bytes, expecting: Self.expectation)
        #expect(envelope.standardization == Self.scaling)
        #expect(envelope.partial == nil)
        #expect(envelope.decode() == Self.parameters)
        // Without one, a model version is as before: no flag, no section.
        let plain = try Self.model(nil)
        #expect(plain[7] == 0)
        #expect(try Envelope(bytes: plain, expecting: Self.expectation).standardization == nil)
        #expect(plain.count == bytes.count - 28)
    }

    @Test func theSectionIsInsideTheChecksum() throws {
        var bytes = try Self.model()
        bytes[Envelope.headerByteCount + 4] ^= 0x01  // the first mean's lowest byte
        guard case .checksumMismatch = Fixture.decodeError(bytes, expecting: Self.expectation) else {
            Issue.record("a changed mean was not refused by the checksum")
            return
        }
    }

    @Test func aSectionOfAnotherWidthOrWithBadNumbersIsRefused() throws {
        // The model's input is 4 wide: a 3-feature standardisation cannot be applied.
        var wide = Self.expectation
        wide.featureCount = 4
        #expect(Fixture.decodeError(try Self.model(), expecting: wide) == .featureCountMismatch(expected: 4, found: 3))
        // A receiver that does not know the width reads what the section declares.
        #expect(try Envelope(bytes: try Self.model()).standardization == Self.scaling)
        // A zero deviation (division by zero for every row), resealed so only it is wrong.
        var zero = try Self.model()
        let firstDeviation = Envelope.headerByteCount + 4 + 4 * 3
        Fixture.put(Float(0).bitPattern, at: firstDeviation, in: &zero)
        #expect(Fixture.decodeError(Fixture.resealed(zero), expecting: Self.expectation) == .invalidDeviation(feature: 0))
        // A section longer than its feature count says: the extra bytes are refused.
        var longer = try Self.model()
        Fixture.put(UInt32(2), at: Envelope.headerByteCount, in: &longer)
        #expect(Fixture.decodeError(Fixture.resealed(longer)) == .lengthMismatch(field: .sectionLength, declared: 28, actual: 20))
    }

    @Test func onlyAModelVersionMayCarryOne() throws {
        // The flag on a client update is a reserved bit set.
        var update = Fixture.message(codec: "fp32", values: Self.parameters)
        update[7] = Envelope.standardizationFlag
        #expect(Fixture.decodeError(Fixture.resealed(update)) == .reservedNotZero(field: .flags))
        // And an encoder will not write one there.
        let error = Fixture.error { () throws(WireError) in
            _ = try Envelope.encode(
                Self.parameters, header: Fixture.header(codec: "fp32", count: Self.parameters.count), standardization: Self.scaling)
        }
        guard case .inconsistentInput(field: .section, _) = error else {
            Issue.record("an update with a standardisation was encoded: \(String(describing: error))")
            return
        }
    }
}
