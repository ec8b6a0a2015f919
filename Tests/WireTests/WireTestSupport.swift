@testable import Wire

/// Shared fixtures: a deterministic update, headers, and a way to re-seal a mutated message.
enum Fixture {
    static let specHash: UInt64 = 0xFEDC_BA98_7654_3210

    /// A heavy-tailed vector with magnitudes ~1e-3, like a real model delta.
    static func update(count: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let u = Float(generator.next() >> 40) / Float(1 << 24) - 0.5
            let tail: Float = generator.next() % 10 == 0 ? 8 : 1
            return 2e-3 * tail * u
        }
    }

    static func header(
        kind: MessageKind = .clientUpdate, codec: String, count: Int, seed: UInt64 = 7
    ) -> MessageHeader {
        var generator = SplitMix64(seed: seed)
        return MessageHeader(
            kind: kind, specHash: specHash, modelVersion: 42, updateID: .random(using: &generator), clientID: 17,
            sampleCount: 600, localSteps: 60, parameterCount: count, codec: try! CodecSpec(parsing: codec))
    }

    static func message(codec: String, values: [Float], kind: MessageKind = .clientUpdate, seed: UInt64 = 7) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        let partial: PartialAggregateSummary? =
            kind == .partialAggregate
            ? PartialAggregateSummary(
                weightTotal: 2.5, massTotal: 3,
                entries: (0..<3).map { .init(updateID: .random(using: &generator), baseVersion: UInt64(40 + $0), checksum: UInt32(0xC0DE_0000 + $0)) },
                settled: [
                    .init(updateID: .random(using: &generator), baseVersion: 30, reason: .stale, checksum: 0xFEED_0001),
                    .init(updateID: .random(using: &generator), baseVersion: 41, reason: .nonFinite),
                ])
            : nil
        return try! Envelope.encode(
            values, header: header(kind: kind, codec: codec, count: values.count, seed: seed), partial: partial,
            using: &generator)
    }

    /// Recomputes the CRC32C trailer so a mutation reaches the checks behind the checksum.
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 4 else { return bytes }
        var sealed = bytes
        let crc = CRC32C.checksum(Array(bytes.dropLast(4)))
        for index in 0..<4 { sealed[bytes.count - 4 + index] = UInt8(truncatingIfNeeded: crc >> (8 * index)) }
        return sealed
    }

    /// Writes a little-endian integer into a message.
    static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        for index in 0..<MemoryLayout<T>.size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    /// The error `body` throws, or nil.
    static func error(_ body: () throws(WireError) -> Void) -> WireError? {
        do { try body() } catch { return error }
        return nil
    }

    static func decodeError(_ bytes: [UInt8], expecting: ModelExpectation? = nil, limits: DecodeLimits = .default) -> WireError? {
        error { () throws(WireError) in _ = try Envelope(bytes: bytes, limits: limits, expecting: expecting) }
    }
}
