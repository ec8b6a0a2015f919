import FedCore
import Testing
@testable import Wire

/// A client's statistics message: round trip, and every way it can be wrong, each a typed error.
@Suite struct StatisticsMessageTests {
    static let hash: UInt64 = 0xFEDC_BA98_7654_3210
    /// Three rows (1, 10), (2, 20), (3, 30): sums 6 and 60, sums of squares 14 and 1400.
    static let valid = StatisticsMessage(specHash: hash, clientID: 7, count: 3, sums: [6, 60], sumsOfSquares: [14, 1400])

    static func decode(_ bytes: [UInt8], features: Int = 2, hash: UInt64 = hash) -> WireError? {
        do {
            _ = try StatisticsMessage(bytes: bytes, featureCount: features, specHash: hash)
            return nil
        } catch { return error }
    }

    /// Changes bytes and recomputes the CRC trailer, so the check under test is not the checksum.
    static func resealed(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes = try! valid.encoded()
        change(&bytes)
        let crc = CRC32C.checksum(bytes[0..<(bytes.count - 4)])
        withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange((bytes.count - 4)..., with: $0) }
        return bytes
    }

    static func setDouble(_ bytes: inout [UInt8], at offset: Int, _ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange(offset..<(offset + 8), with: $0) }
    }

    @Test func roundTrip() throws {
        let bytes = try Self.valid.encoded()
        #expect(bytes.count == StatisticsMessage.headerByteCount + 16 * 2 + 4)
        #expect(Array(bytes[0..<4]) == Array("FDQS".utf8))
        #expect(try StatisticsMessage(bytes: bytes, featureCount: 2, specHash: Self.hash) == Self.valid)
    }

    @Test func constantFeatureIsNotANegativeVariance() throws {
        // 0.1 three times: sumsOfSquares/n − mean² rounds a hair below zero in Float64.
        let constant = StatisticsMessage(specHash: Self.hash, clientID: 1, count: 3, sums: [0.1 + 0.1 + 0.1], sumsOfSquares: [0.01 * 3])
        #expect(Self.decode(try constant.encoded(), features: 1) == nil)
    }

    @Test func headerFaults() throws {
        let bytes = try Self.valid.encoded()
        #expect(Self.decode([]) == .truncated(field: .magic, needed: 4, available: 0))
        #expect(Self.decode(Array(bytes.prefix(20))) == .truncated(field: .featureCount, needed: 44, available: 20))
        #expect(Self.decode(Self.resealed { $0[0] = 0 }) == .badMagic(found: 0x5351_4400))
        #expect(Self.decode(Self.resealed { $0[4] = 2 }) == .unsupportedFormatVersion(2))
        #expect(Self.decode(Self.resealed { $0[6] = 1 }) == .reservedNotZero(field: .reserved))
        #expect(Self.decode(Self.resealed { $0[39] = 1 }) == .reservedNotZero(field: .reserved))
        #expect(Self.decode(Self.resealed { $0[32] = 3 }) == .lengthMismatch(field: .featureCount, declared: 92, actual: 76))
        #expect(Self.decode(Array(bytes.dropLast())) == .lengthMismatch(field: .featureCount, declared: 76, actual: 75))
    }

    @Test func checksum() throws {
        var bytes = try Self.valid.encoded()
        bytes[45] ^= 1
        guard case .checksumMismatch = Self.decode(bytes) else { Issue.record("a flipped bit passed the CRC"); return }
    }

    @Test func anotherTableOrModel() throws {
        let bytes = try Self.valid.encoded()
        #expect(Self.decode(bytes, hash: 1) == .specHashMismatch(expected: 1, found: Self.hash))
        #expect(Self.decode(bytes, features: 3) == .featureCountMismatch(expected: 3, found: 2))
    }

    @Test func valueFaults() {
        #expect(Self.decode(Self.resealed { $0[24] = 0 }) == .zeroCount)
        #expect(Self.decode(Self.resealed { Self.setDouble(&$0, at: 48, .nan) }) == .nonFinite(field: .sums, index: 1))
        #expect(Self.decode(Self.resealed { Self.setDouble(&$0, at: 56, .infinity) }) == .nonFinite(field: .sumsOfSquares, index: 0))
        #expect(Self.decode(Self.resealed { Self.setDouble(&$0, at: 64, -1) }) == .negativeVariance(feature: 1))
        // Sums of squares 11 for sum 6 over 3 rows: 11/3 < 2², a variance no rows give.
        #expect(Self.decode(Self.resealed { Self.setDouble(&$0, at: 56, 11) }) == .negativeVariance(feature: 0))
    }

    @Test func encodingRefusesWhatDecodingWould() {
        var zero = Self.valid
        zero.count = 0
        #expect(throws: WireError.zeroCount) { try zero.encoded() }
        var ragged = Self.valid
        ragged.sumsOfSquares = [14]
        #expect(throws: WireError.self) { try ragged.encoded() }
    }

    @Test func everyByteFlipIsATypedErrorNotACrash() throws {
        let bytes = try Self.valid.encoded()
        for index in bytes.indices {
            var copy = bytes
            copy[index] ^= 0x5A
            #expect(Self.decode(copy) != nil, "flip at \(index) decoded")
        }
    }

    @Test func standardizationSectionRoundTrip() throws {
        let section = Standardization(means: [1.5, -2], deviations: [0.5, 3])
        let bytes = try section.encodedSection()
        #expect(bytes.count == section.sectionByteCount)
        let decoded = try bytes.withUnsafeBytes { raw throws(WireError) in
            var reader = ByteReader(raw)
            return try Standardization(readingSection: &reader, featureCount: 2)
        }
        #expect(decoded == section)
    }

    static func sectionError(_ bytes: [UInt8], features: Int = 2) -> WireError? {
        bytes.withUnsafeBytes { raw -> WireError? in
            var reader = ByteReader(raw)
            do throws(WireError) {
                _ = try Standardization(readingSection: &reader, featureCount: features)
                return nil
            } catch { return error }
        }
    }

    @Test func standardizationSectionRejections() throws {
        let bytes = try Standardization(means: [1.5, -2], deviations: [0.5, 3]).encodedSection()
        #expect(Self.sectionError(bytes, features: 3) == .featureCountMismatch(expected: 3, found: 2))
        #expect(Self.sectionError(Array(bytes.prefix(2))) == .truncated(field: .featureCount, needed: 4, available: 2))
        #expect(Self.sectionError(Array(bytes.prefix(10))) == .truncated(field: .means, needed: 16, available: 6))
        func patched(_ offset: Int, _ value: Float) -> [UInt8] {
            var copy = bytes
            withUnsafeBytes(of: value.bitPattern.littleEndian) { copy.replaceSubrange(offset..<(offset + 4), with: $0) }
            return copy
        }
        #expect(Self.sectionError(patched(8, .nan)) == .nonFinite(field: .means, index: 1))
        #expect(Self.sectionError(patched(12, 0)) == .invalidDeviation(feature: 0))
        #expect(Self.sectionError(patched(16, -1)) == .invalidDeviation(feature: 1))
        #expect(Self.sectionError(patched(16, .infinity)) == .invalidDeviation(feature: 1))
        #expect(throws: WireError.self) { try Standardization(means: [1], deviations: [0]).encodedSection() }
    }
}
