#if !_endian(little)
#error("The wire format is little-endian and the decoders read it in place: port the loads first.")
#endif

/// A verified message: header, partial-aggregate summary, and a payload that has passed every
/// check (checksum, lengths, limits, expected model, finite values, top-k indices).
///
/// Everything that can reject a message happens in ``init(bytes:limits:expecting:rejectNonFinite:)``;
/// ``accumulate(into:weight:)`` cannot fail on content afterwards. That is the design choice for
/// the hot path: one fast validation pass (the finite check is a branch-free integer OR over the
/// bit patterns; int8 only checks its per-block scales), then a pure accumulate pass, so a
/// rejected update never touches the accumulator and nothing needs rolling back.
public struct Envelope: Sendable {
    /// The format version this build writes and reads.
    public static let formatVersion: UInt16 = 1
    /// `FDQW` read as a little-endian UInt32.
    public static let magic: UInt32 = 0x5751_4446
    /// Bytes of the fixed header.
    public static let headerByteCount = 88
    /// Bytes of the CRC32C trailer.
    public static let trailerByteCount = 4
    /// Bytes of a partial aggregate's section before its entries, and per entry.
    static let partialFixedByteCount = 24
    static let partialEntryByteCount = 32
    /// Entries of partials written before entries carried their message's checksum
    /// (`flags` 0): id and base version only.
    static let legacyPartialEntryByteCount = 24
    /// `flags` bit 0 of a partial aggregate: its entries carry their message's checksum
    /// (32 bytes each). Every partial is written with it; one without is still read.
    static let checksummedEntriesFlag: UInt8 = 1
    /// `flags` bit 3 of a partial aggregate: its entries also carry their update's client id
    /// (40 bytes each). Written whenever every entry has one; a partial without it is still read.
    static let clientEntriesFlag: UInt8 = 8
    /// Bytes per entry with its client.
    static let clientPartialEntryByteCount = 40
    /// A partial's `flags` bit: its section ends with a stream range (32 bytes).
    static let streamRangeFlag: UInt8 = 4
    /// The stream range's bytes at the end of a partial's section.
    static let streamRangeByteCount = 32
    /// `flags` bit 1 of a model version: its section holds a table federation's
    /// standardisation (`Standardization`, docs/wire-format.md), covered by the CRC.
    public static let standardizationFlag: UInt8 = 2
    /// Bytes per settled entry (id, base version, reason code, 3 reserved zero bytes, the
    /// refused message's checksum or 0).
    static let settledEntryByteCount = 32

    public let header: MessageHeader
    /// Present exactly for ``MessageKind/partialAggregate`` messages.
    public let partial: PartialAggregateSummary?
    /// A table federation's scaling, which only a model version carries.
    public let standardization: Standardization?
    /// Size of the whole message on the wire.
    public let messageByteCount: Int
    /// The message's CRC32C (its trailer, verified on decode): a fingerprint of its
    /// bytes, which tells a republished copy of a message from another message.
    public var checksum: UInt32 {
        storage.withUnsafeBytes { ByteReader($0).read(at: storage.count - Self.trailerByteCount) }
    }
    /// Size of the codec output before deflate.
    public let encodedByteCount: Int

    /// Bytes holding the codec output (the message itself, or the inflated payload).
    let storage: [UInt8]
    /// Offset of the codec output in ``storage``.
    let encodedOffset: Int
    /// For top-k payloads: entries kept, and offsets of the index varints and of the values.
    let sparse: SparseLayout?

    struct SparseLayout: Sendable {
        var count: Int
        var indexOffset: Int
        var indexByteCount: Int
        var valuesOffset: Int
    }

    /// Parses and verifies `bytes`.
    ///
    /// - Parameters:
    ///   - limits: sizes beyond which the message is refused before any allocation.
    ///   - expecting: the model the receiver holds; a different spec hash or parameter count is refused.
    ///   - rejectNonFinite: `false` only for diagnostics (`fedq inspect`) that want to look at a bad update.
    /// - Throws: ``WireError`` naming the first field found wrong.
    public init(
        bytes: [UInt8], limits: DecodeLimits = .default, expecting: ModelExpectation? = nil,
        rejectNonFinite: Bool = true
    ) throws(WireError) {
        let parsed = try bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) in try Self.parseFrame(raw, limits: limits, expecting: expecting) }
        }.get()
        header = parsed.header
        partial = parsed.partial
        standardization = parsed.standardization
        messageByteCount = bytes.count
        encodedByteCount = parsed.encodedLength
        let payloadOffset = bytes.count - Self.trailerByteCount - parsed.payloadLength
        if header.codec.deflate {
            storage = try Deflate.inflate(
                bytes, offset: payloadOffset, count: parsed.payloadLength, expectedLength: parsed.encodedLength)
            encodedOffset = 0
        } else {
            storage = bytes
            encodedOffset = payloadOffset
        }
        let offset = encodedOffset
        sparse = try storage.withUnsafeBytes { raw in
            Result { () throws(WireError) in
                try Self.validatePayload(
                    raw, offset: offset, length: parsed.encodedLength, header: parsed.header,
                    rejectNonFinite: rejectNonFinite)
            }
        }.get()
    }

    /// The decoded parameter vector (model versions, diagnostics). Workers should prefer
    /// ``accumulate(into:weight:)``, which never materialises it.
    public func decode() -> [Float] {
        var values = [Float](repeating: 0, count: header.parameterCount)
        accumulateUnchecked(into: &values, weight: 1)
        return values
    }
}

extension Envelope {
    struct Frame {
        var header: MessageHeader
        var partial: PartialAggregateSummary?
        var standardization: Standardization?
        var encodedLength: Int
        var payloadLength: Int
    }

    /// Reads and checks the header, lengths, checksum, expectation and section.
    static func parseFrame(
        _ bytes: UnsafeRawBufferPointer, limits: DecodeLimits, expecting: ModelExpectation?
    ) throws(WireError) -> Frame {
        var reader = ByteReader(bytes)
        guard bytes.count >= 4 else { throw .truncated(field: .magic, needed: 4, available: bytes.count) }
        let magic: UInt32 = reader.read(at: 0)
        guard magic == Self.magic else { throw .badMagic(found: magic) }
        guard bytes.count >= 6 else { throw .truncated(field: .formatVersion, needed: 6, available: bytes.count) }
        let version: UInt16 = reader.read(at: 4)
        guard version == formatVersion else { throw .unsupportedFormatVersion(version) }
        guard bytes.count >= headerByteCount + trailerByteCount else {
            throw .truncated(field: .kind, needed: headerByteCount + trailerByteCount, available: bytes.count)
        }
        guard bytes.count <= limits.maxMessageBytes else {
            throw .limitExceeded(field: .payloadLength, value: bytes.count, limit: limits.maxMessageBytes)
        }
        let kindByte: UInt8 = reader.read(at: 6)
        guard let kind = MessageKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let flags: UInt8 = reader.read(at: 7)
        guard flags == 0
            || (kind == .partialAggregate && flags & ~(clientEntriesFlag | streamRangeFlag) == checksummedEntriesFlag)
            || (kind == .modelVersion && flags == standardizationFlag)
        else {
            throw .reservedNotZero(field: .flags)
        }
        let codec = try parseCodec(&reader, kind: kind)
        let parameterCount = Int(reader.read(at: 20) as UInt32)
        guard parameterCount <= limits.maxParameterCount else {
            throw .limitExceeded(field: .parameterCount, value: parameterCount, limit: limits.maxParameterCount)
        }
        let header = MessageHeader(
            kind: kind, specHash: reader.read(at: 24), modelVersion: reader.read(at: 32),
            updateID: reader.updateID(at: 40), clientID: reader.read(at: 56),
            sampleCount: reader.read(at: 64), localSteps: reader.read(at: 72), parameterCount: parameterCount,
            codec: codec)
        let sectionLength = Int(reader.read(at: 76) as UInt32)
        let encodedLength = Int(reader.read(at: 80) as UInt32)
        let payloadLength = Int(reader.read(at: 84) as UInt32)
        let declaredTotal = headerByteCount + sectionLength + payloadLength + trailerByteCount
        guard bytes.count >= declaredTotal else {
            throw .truncated(field: .payload, needed: declaredTotal, available: bytes.count)
        }
        guard bytes.count == declaredTotal else {
            throw .lengthMismatch(field: .payloadLength, declared: payloadLength, actual: bytes.count - declaredTotal + payloadLength)
        }
        let maxEncoded = maxEncodedLength(codec: codec, parameterCount: parameterCount)
        guard encodedLength <= min(maxEncoded, limits.maxMessageBytes) else {
            throw .limitExceeded(field: .encodedLength, value: encodedLength, limit: min(maxEncoded, limits.maxMessageBytes))
        }
        if !codec.deflate && encodedLength != payloadLength {
            throw .lengthMismatch(field: .encodedLength, declared: encodedLength, actual: payloadLength)
        }
        let declaredChecksum: UInt32 = reader.read(at: bytes.count - trailerByteCount)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - trailerByteCount)]))
        guard declaredChecksum == computed else { throw .checksumMismatch(declared: declaredChecksum, computed: computed) }
        if let expecting {
            guard header.specHash == expecting.specHash else {
                throw .specHashMismatch(expected: expecting.specHash, found: header.specHash)
            }
            guard parameterCount == expecting.parameterCount else {
                throw .parameterCountMismatch(expected: expecting.parameterCount, found: parameterCount)
            }
        }
        let section = UnsafeRawBufferPointer(rebasing: bytes[headerByteCount..<(headerByteCount + sectionLength)])
        if kind == .modelVersion && flags == standardizationFlag {
            let standardization = try parseStandardization(section, featureCount: expecting?.featureCount)
            return Frame(
                header: header, partial: nil, standardization: standardization, encodedLength: encodedLength,
                payloadLength: payloadLength)
        }
        let partial = try parseSection(
            section, kind: kind, checksummedEntries: flags & checksummedEntriesFlag != 0,
            clientEntries: flags & clientEntriesFlag != 0, hasStreamRange: flags & streamRangeFlag != 0, limits: limits)
        return Frame(header: header, partial: partial, encodedLength: encodedLength, payloadLength: payloadLength)
    }

    private static func parseCodec(_ reader: inout ByteReader, kind: MessageKind) throws(WireError) -> CodecSpec {
        var codec = CodecSpec()
        let sparsifier: UInt8 = reader.read(at: 8)
        let fraction = Float(bitPattern: reader.read(at: 16))
        switch sparsifier {
        case 0:
            guard fraction.bitPattern == 0 else { throw .reservedNotZero(field: .topkFraction) }
        case 1:
            guard fraction > 0, fraction <= 1 else { throw .invalidCodecParameter(field: .topkFraction, value: "\(fraction)") }
            codec.topkFraction = fraction
        default: throw .unknownCodec(field: .sparsifier, id: sparsifier)
        }
        let valueCodec: UInt8 = reader.read(at: 9)
        guard let values = ValueCodecRegistry.codec(wireID: valueCodec) else {
            throw .unknownCodec(field: .valueCodec, id: valueCodec)
        }
        codec.values = try values.init(wireParameter: reader.read(at: 12))
        let compression: UInt8 = reader.read(at: 10)
        switch compression {
        case 0: codec.deflate = false
        case 1: codec.deflate = true
        default: throw .unknownCodec(field: .compression, id: compression)
        }
        guard reader.read(at: 11) as UInt8 == 0, reader.read(at: 14) as UInt16 == 0 else {
            throw .reservedNotZero(field: .reserved)
        }
        if codec.topkFraction != nil && kind != .clientUpdate {
            throw .codecNotAllowed(kind: kind, codec: codec.description)
        }
        return codec
    }

    /// The most codec output a valid message with this codec can have, so a forged
    /// `encodedLength` cannot make the inflater allocate more.
    static func maxEncodedLength(codec: CodecSpec, parameterCount n: Int) -> Int {
        let dense = codec.values.encodedByteCount(count: n)
        return codec.topkFraction == nil ? dense : 8 + 5 * n + dense
    }

    /// A model version's standardisation section: exactly one, of the model's input width
    /// when the receiver knows it.
    private static func parseStandardization(_ section: UnsafeRawBufferPointer, featureCount: Int?) throws(WireError) -> Standardization {
        var reader = ByteReader(section)
        let standardization = try Standardization(readingSection: &reader, featureCount: featureCount)
        guard reader.remaining == 0 else {
            throw .lengthMismatch(field: .sectionLength, declared: section.count, actual: standardization.sectionByteCount)
        }
        return standardization
    }

    private static func parseSection(
        _ section: UnsafeRawBufferPointer, kind: MessageKind, checksummedEntries: Bool, clientEntries: Bool,
        hasStreamRange: Bool, limits: DecodeLimits
    ) throws(WireError) -> PartialAggregateSummary? {
        guard kind == .partialAggregate else {
            guard section.isEmpty else { throw .lengthMismatch(field: .sectionLength, declared: section.count, actual: 0) }
            return nil
        }
        guard section.count >= partialFixedByteCount else {
            throw .truncated(field: .section, needed: partialFixedByteCount, available: section.count)
        }
        let reader = ByteReader(section)
        let weightTotal = Double(bitPattern: reader.read(at: 0))
        guard weightTotal.isFinite else { throw .nonFinite(field: .weightTotal, index: 0) }
        let massTotal = Double(bitPattern: reader.read(at: 8))
        guard massTotal.isFinite, massTotal >= 0 else { throw .nonFinite(field: .massTotal, index: 0) }
        let count = Int(reader.read(at: 16) as UInt32)
        let settledCount = Int(reader.read(at: 20) as UInt32)
        guard count + settledCount <= limits.maxPartialEntries else {
            throw .limitExceeded(field: .updateCount, value: count + settledCount, limit: limits.maxPartialEntries)
        }
        let entryBytes =
            clientEntries ? clientPartialEntryByteCount : checksummedEntries ? partialEntryByteCount : legacyPartialEntryByteCount
        let settledStart = partialFixedByteCount + count * entryBytes
        let rangeStart = settledStart + settledCount * settledEntryByteCount
        let expected = rangeStart + (hasStreamRange ? streamRangeByteCount : 0)
        guard section.count == expected else {
            throw .lengthMismatch(field: .sectionLength, declared: section.count, actual: expected)
        }
        var entries: [PartialAggregateSummary.Entry] = []
        entries.reserveCapacity(count)
        for entry in 0..<count {
            let offset = partialFixedByteCount + entry * entryBytes
            if checksummedEntries {
                guard reader.read(at: offset + 28) as UInt32 == 0 else { throw .reservedNotZero(field: .section) }
            }
            entries.append(
                .init(
                    updateID: reader.updateID(at: offset), baseVersion: reader.read(at: offset + 16),
                    checksum: checksummedEntries ? reader.read(at: offset + 24) : 0,
                    clientID: clientEntries ? reader.read(at: offset + 32) as UInt64 : nil))
        }
        var settled: [PartialAggregateSummary.Settled] = []
        settled.reserveCapacity(settledCount)
        for entry in 0..<settledCount {
            let offset = settledStart + entry * settledEntryByteCount
            let code: UInt8 = reader.read(at: offset + 24)
            guard let reason = RejectionReason(rawValue: code) else { throw .unknownSettlementCode(entry: entry, code: code) }
            guard reader.read(at: offset + 24) as UInt32 >> 8 == 0 else { throw .reservedNotZero(field: .section) }
            settled.append(
                .init(
                    updateID: reader.updateID(at: offset),
                    baseVersion: reader.read(at: offset + 16), reason: reason, checksum: reader.read(at: offset + 28)))
        }
        var streamRange: PartialAggregateSummary.StreamRange?
        if hasStreamRange {
            guard reader.read(at: rangeStart + 4) as UInt32 == 0 else { throw .reservedNotZero(field: .section) }
            let range = PartialAggregateSummary.StreamRange(
                shard: reader.read(at: rangeStart), claim: reader.read(at: rangeStart + 8),
                first: reader.read(at: rangeStart + 16), last: reader.read(at: rangeStart + 24))
            guard range.first <= range.last else { throw .invalidStreamRange(first: range.first, last: range.last) }
            streamRange = range
        }
        return PartialAggregateSummary(
            weightTotal: weightTotal, massTotal: massTotal, entries: entries, settled: settled, streamRange: streamRange)
    }
}
