extension Envelope {
    /// Encodes `values` (a delta, a weighted sum or a parameter vector) with `header.codec`.
    ///
    /// - Parameters:
    ///   - partial: the summary of a partial aggregate; required exactly when `header.kind` is
    ///     ``MessageKind/partialAggregate``.
    ///   - standardization: a table federation's scaling, carried only by a model version
    ///     (its section, flag ``standardizationFlag``).
    ///   - generator: seeds int8 stochastic rounding (inject a seeded one in tests).
    /// - Throws: ``WireError/unencodableValue(index:value:)`` for NaN/Inf (or beyond ±65504 with
    ///   fp16), ``WireError/inconsistentInput(field:reason:)`` when the arguments disagree.
    public static func encode(
        _ values: [Float], header: MessageHeader, partial: PartialAggregateSummary? = nil,
        standardization: Standardization? = nil, using generator: inout some RandomNumberGenerator
    ) throws(WireError) -> [UInt8] {
        try values.withUnsafeBufferPointer { buffer in
            Result { () throws(WireError) in
                try encode(buffer, header: header, partial: partial, standardization: standardization, using: &generator)
            }
        }.get()
    }

    /// ``encode(_:header:partial:standardization:using:)`` with the system random generator.
    public static func encode(
        _ values: [Float], header: MessageHeader, partial: PartialAggregateSummary? = nil, standardization: Standardization? = nil
    ) throws(WireError) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return try encode(values, header: header, partial: partial, standardization: standardization, using: &generator)
    }

    static func encode(
        _ values: UnsafeBufferPointer<Float>, header: MessageHeader, partial: PartialAggregateSummary?,
        standardization: Standardization? = nil, using generator: inout some RandomNumberGenerator
    ) throws(WireError) -> [UInt8] {
        try checkConsistency(values, header: header, partial: partial)
        guard standardization == nil || header.kind == .modelVersion else {
            throw .inconsistentInput(field: .section, reason: "only a model version carries a standardisation")
        }
        let scaling = try standardization?.encodedSection()
        try checkEncodable(values, codec: header.codec.values)
        // Only stochastic codecs (int8) draw from it; others leave the caller's generator untouched.
        var random = VectorRandom(seed: header.codec.isStochastic ? generator.next() : 0)
        var message = headerBytes(header)
        if scaling != nil { message[7] = standardizationFlag }
        if partial?.streamRange != nil { message[7] |= streamRangeFlag }
        if partial?.entriesNameClients == true { message[7] |= clientEntriesFlag }
        if header.codec.topkFraction == nil && !header.codec.deflate {
            // Dense payloads have a known size: one allocation for the whole message.
            message.reserveCapacity(
                headerByteCount + partialSectionLength(partial) + (scaling?.count ?? 0)
                    + header.codec.values.encodedByteCount(count: values.count) + trailerByteCount)
        }
        if let partial { appendSection(partial, to: &message) }
        if let scaling { message.append(contentsOf: scaling) }
        let sectionLength = message.count - headerByteCount
        let encodedLength: Int
        if header.codec.deflate {
            var encoded: [UInt8] = []
            appendPayload(values, codec: header.codec, to: &encoded, random: &random)
            encodedLength = encoded.count
            message.append(contentsOf: try Deflate.compress(encoded))
        } else {
            appendPayload(values, codec: header.codec, to: &message, random: &random)
            encodedLength = message.count - headerByteCount - sectionLength
        }
        let payloadLength = message.count - headerByteCount - sectionLength
        put(UInt32(sectionLength), at: 76, in: &message)
        put(UInt32(encodedLength), at: 80, in: &message)
        put(UInt32(payloadLength), at: 84, in: &message)
        let checksum = CRC32C.checksum(message)
        message.append(contentsOf: withUnsafeBytes(of: checksum.littleEndian) { Array($0) })
        return message
    }

    private static func checkConsistency(
        _ values: UnsafeBufferPointer<Float>, header: MessageHeader, partial: PartialAggregateSummary?
    ) throws(WireError) {
        // Codec parameters first: the size computations below divide by the block size.
        try header.codec.values.validateParameters()
        if let fraction = header.codec.topkFraction, !(fraction > 0 && fraction <= 1) {
            throw .invalidCodecParameter(field: .topkFraction, value: "\(fraction)")
        }
        guard values.count == header.parameterCount else {
            throw .inconsistentInput(field: .parameterCount, reason: "header says \(header.parameterCount), vector has \(values.count)")
        }
        guard maxEncodedLength(codec: header.codec, parameterCount: header.parameterCount) <= Int(UInt32.max) else {
            throw .inconsistentInput(field: .parameterCount, reason: "the payload would not fit the 32-bit length fields")
        }
        guard (partial != nil) == (header.kind == .partialAggregate) else {
            throw .inconsistentInput(field: .section, reason: "a partial summary is required exactly for partial aggregates")
        }
        if header.codec.topkFraction != nil && header.kind != .clientUpdate {
            throw .codecNotAllowed(kind: header.kind, codec: header.codec.description)
        }
        if let partial {
            guard partial.weightTotal.isFinite else { throw .nonFinite(field: .weightTotal, index: 0) }
            guard partial.massTotal.isFinite, partial.massTotal >= 0 else { throw .nonFinite(field: .massTotal, index: 0) }
            guard partialSectionLength(partial) <= Int(UInt32.max) else {
                throw .inconsistentInput(field: .updateCount, reason: "too many entries for the 32-bit section length")
            }
            if let range = partial.streamRange, range.first > range.last {
                throw .invalidStreamRange(first: range.first, last: range.last)
            }
        }
    }

    private static func checkEncodable(_ values: UnsafeBufferPointer<Float>, codec: some ValueCodec) throws(WireError) {
        guard let base = values.baseAddress else { return }
        if let index = FiniteScan.firstNonFiniteFloat(UnsafeRawPointer(base), count: values.count) {
            throw .unencodableValue(index: index, value: values[index])
        }
        try codec.checkEncodable(values)
    }

    private static func headerBytes(_ header: MessageHeader) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerByteCount)
        put(magic, at: 0, in: &bytes)
        put(formatVersion, at: 4, in: &bytes)
        bytes[6] = header.kind.rawValue
        if header.kind == .partialAggregate { bytes[7] = checksummedEntriesFlag }
        let codec = header.codec
        if let fraction = codec.topkFraction {
            bytes[8] = 1
            put(fraction.bitPattern, at: 16, in: &bytes)
        }
        bytes[9] = type(of: codec.values).wireID
        put(codec.values.wireParameter, at: 12, in: &bytes)
        bytes[10] = codec.deflate ? 1 : 0
        put(UInt32(header.parameterCount), at: 20, in: &bytes)
        put(header.specHash, at: 24, in: &bytes)
        put(header.modelVersion, at: 32, in: &bytes)
        bytes.replaceSubrange(40..<56, with: header.updateID.bytes)
        put(header.clientID, at: 56, in: &bytes)
        put(header.sampleCount, at: 64, in: &bytes)
        put(header.localSteps, at: 72, in: &bytes)
        return bytes
    }

    private static func partialSectionLength(_ partial: PartialAggregateSummary?) -> Int {
        guard let partial else { return 0 }
        return partialFixedByteCount + entryByteCount(partial) * partial.entries.count
            + settledEntryByteCount * partial.settled.count + (partial.streamRange == nil ? 0 : streamRangeByteCount)
    }

    private static func entryByteCount(_ partial: PartialAggregateSummary) -> Int {
        partial.entriesNameClients ? clientPartialEntryByteCount : partialEntryByteCount
    }

    private static func appendSection(_ partial: PartialAggregateSummary, to bytes: inout [UInt8]) {
        let start = bytes.count
        let entryBytes = entryByteCount(partial)
        bytes.append(contentsOf: repeatElement(0, count: partialSectionLength(partial)))
        put(partial.weightTotal.bitPattern, at: start, in: &bytes)
        put(partial.massTotal.bitPattern, at: start + 8, in: &bytes)
        put(UInt32(partial.entries.count), at: start + 16, in: &bytes)
        for (number, entry) in partial.entries.enumerated() {
            let offset = start + partialFixedByteCount + number * entryBytes
            bytes.replaceSubrange(offset..<(offset + 16), with: entry.updateID.bytes)
            put(entry.baseVersion, at: offset + 16, in: &bytes)
            put(entry.checksum, at: offset + 24, in: &bytes)
            if let client = entry.clientID, entryBytes == clientPartialEntryByteCount { put(client, at: offset + 32, in: &bytes) }
        }
        put(UInt32(partial.settled.count), at: start + 20, in: &bytes)
        let settledStart = start + partialFixedByteCount + partial.entries.count * entryBytes
        for (number, entry) in partial.settled.enumerated() {
            let offset = settledStart + number * settledEntryByteCount
            bytes.replaceSubrange(offset..<(offset + 16), with: entry.updateID.bytes)
            put(entry.baseVersion, at: offset + 16, in: &bytes)
            bytes[offset + 24] = entry.reason.rawValue
            put(entry.checksum, at: offset + 28, in: &bytes)
        }
        if let range = partial.streamRange {
            let offset = settledStart + partial.settled.count * settledEntryByteCount
            put(range.shard, at: offset, in: &bytes)
            put(range.claim, at: offset + 8, in: &bytes)
            put(range.first, at: offset + 16, in: &bytes)
            put(range.last, at: offset + 24, in: &bytes)
        }
    }

    private static func appendPayload(
        _ values: UnsafeBufferPointer<Float>, codec: CodecSpec, to bytes: inout [UInt8], random: inout VectorRandom
    ) {
        guard codec.topkFraction != nil else {
            appendValues(values, codec: codec.values, to: &bytes, random: &random)
            return
        }
        let indices = TopKSelection.select(values, count: codec.topkCount(parameterCount: values.count))
        var varints: [UInt8] = []
        varints.reserveCapacity(2 * indices.count)
        var previous = 0
        for (position, index) in indices.enumerated() {
            Varint.append(UInt32(position == 0 ? index : index - previous), to: &varints)
            previous = index
        }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 8))
        put(UInt32(indices.count), at: start, in: &bytes)
        put(UInt32(varints.count), at: start + 4, in: &bytes)
        bytes.append(contentsOf: varints)
        let kept = indices.map { values[$0] }
        kept.withUnsafeBufferPointer { appendValues($0, codec: codec.values, to: &bytes, random: &random) }
    }

    private static func appendValues(
        _ values: UnsafeBufferPointer<Float>, codec: some ValueCodec, to bytes: inout [UInt8], random: inout VectorRandom
    ) {
        let start = bytes.count
        let length = codec.encodedByteCount(count: values.count)
        bytes.append(contentsOf: repeatElement(0, count: length))
        bytes.withUnsafeMutableBytes { whole in
            codec.encode(values, into: UnsafeMutableRawBufferPointer(rebasing: whole[start..<(start + length)]), random: &random)
        }
    }

    private static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { source in
            for (step, byte) in source.enumerated() { bytes[offset + step] = byte }
        }
    }
}

extension Envelope {
    /// A copy of an encoded message under another update id, and client id when given (the checksum resealed):
    /// load tests publish one encoded update many times as distinct updates, without
    /// paying the encoder for each.
    /// - Throws: ``WireError/truncated(field:needed:available:)`` for bytes shorter than a header.
    public static func restamped(_ message: [UInt8], updateID: UpdateID, clientID: UInt64? = nil) throws(WireError) -> [UInt8] {
        guard message.count >= headerByteCount + 4 else {
            throw .truncated(field: .kind, needed: headerByteCount + 4, available: message.count)
        }
        var copy = message
        copy.replaceSubrange(40..<56, with: updateID.bytes)
        if let clientID { for index in 0..<8 { copy[56 + index] = UInt8(truncatingIfNeeded: clientID >> (8 * index)) } }
        let crc = CRC32C.checksum(copy[..<(copy.count - 4)])
        for index in 0..<4 { copy[copy.count - 4 + index] = UInt8(truncatingIfNeeded: crc >> (8 * index)) }
        return copy
    }
}
