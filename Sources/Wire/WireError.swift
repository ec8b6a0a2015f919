/// The field of a message a ``WireError`` is about, so an operator reading a dead-letter
/// reason knows exactly which bytes were wrong.
public enum WireField: String, Sendable, CaseIterable {
    case magic, formatVersion, kind, flags, sparsifier, valueCodec, compression, reserved
    /// Header bytes 12–13. `int8BlockSize` names them for int8 (and for codecs without a
    /// parameter, which must leave them zero), as it always has; other codecs use `codecParameter`.
    case int8BlockSize, codecParameter, topkFraction, parameterCount, sectionLength, encodedLength, payloadLength
    case section, payload, weightTotal, massTotal, updateCount, topkCount, topkIndexBytes, values
    /// A client's statistics message (`StatisticsMessage`) and a model's standardisation section.
    case featureCount, count, sums, sumsOfSquares, means, deviations
}

/// Every way a message can be rejected, each naming the field it is about.
///
/// Decoding never traps: whatever bytes arrive, the result is either a valid ``Envelope`` or one
/// of these. The pipeline dead-letters with ``reasonCode`` as the reason header.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message ends before `field` could be read.
    case truncated(field: WireField, needed: Int, available: Int)
    /// The first four bytes are not `FDQW`.
    case badMagic(found: UInt32)
    /// A format version this build does not understand.
    case unsupportedFormatVersion(UInt16)
    /// A message kind byte outside 1...3.
    case unknownKind(UInt8)
    /// A codec id (sparsifier, value codec or compression) this build does not understand.
    case unknownCodec(field: WireField, id: UInt8)
    /// A parameter of a known codec is outside its allowed values.
    case invalidCodecParameter(field: WireField, value: String)
    /// A codec that the message kind does not allow (top-k on a model version or partial aggregate).
    case codecNotAllowed(kind: MessageKind, codec: String)
    /// A reserved byte or flag that must be zero is not.
    case reservedNotZero(field: WireField)
    /// A declared length disagrees with the bytes that are there.
    case lengthMismatch(field: WireField, declared: Int, actual: Int)
    /// A declared size is over the configured ``DecodeLimits``.
    case limitExceeded(field: WireField, value: Int, limit: Int)
    /// The CRC32C trailer does not match the bytes.
    case checksumMismatch(declared: UInt32, computed: UInt32)
    /// The update was trained for another model architecture.
    case specHashMismatch(expected: UInt64, found: UInt64)
    /// The update has a different number of parameters than the expected model.
    case parameterCountMismatch(expected: Int, found: Int)
    /// A NaN or infinity at element `index` of `field`.
    case nonFinite(field: WireField, index: Int)
    /// A block scale (int8, int4) that is negative, NaN, infinite or so large that decoded values overflow.
    case invalidScale(block: Int)
    /// A top-k index at `position` (0-based among the k entries) that is not below the parameter count.
    case topkIndexOutOfRange(position: Int, index: UInt64, parameterCount: Int)
    /// A top-k index at `position` equal to the previous one (a zero delta). Deltas are unsigned,
    /// so an unsorted list cannot be encoded; duplicates are the only ordering fault there is.
    case topkIndexDuplicate(position: Int, index: Int)
    /// A varint in the top-k index list that runs past its region or past 32 bits.
    case badVarint(position: Int)
    /// The deflate stream is corrupt, too long, or too short.
    case decompressionFailed(reason: String)
    /// The accumulator handed to ``Envelope/accumulate(into:weight:)`` has the wrong length.
    case accumulatorSizeMismatch(expected: Int, actual: Int)
    /// Encoding refused a value at `index` (NaN, infinity, or beyond the fp16 range).
    case unencodableValue(index: Int, value: Float)
    /// A partial's settled entry (0-based) whose reason byte is not a known ``RejectionReason``.
    case unknownSettlementCode(entry: Int, code: UInt8)
    /// Encoding got a vector, partial-aggregate list or metadata that disagrees with the header.
    case inconsistentInput(field: WireField, reason: String)
    /// Statistics or a standardisation for a table of another width than the model's.
    case featureCountMismatch(expected: Int, found: Int)
    /// A statistics message over no rows: it would divide by zero when merged alone.
    case zeroCount
    /// Statistics whose sums of squares imply a negative variance at `feature` (sumsOfSquares/n < mean²):
    /// no real rows give that, so the numbers are corrupt or made up.
    case negativeVariance(feature: Int)
    /// A standardisation whose deviation at `feature` is not finite and positive.
    case invalidDeviation(feature: Int)
    /// A partial's stream range whose first offset is after its last.
    case invalidStreamRange(first: UInt64, last: UInt64)

    /// A short stable token for dead-letter headers and metrics (`x-fedq-reason`).
    public var reasonCode: String {
        switch self {
        case .truncated(let field, _, _): "truncated:\(field.rawValue)"
        case .badMagic: "bad-magic"
        case .unsupportedFormatVersion: "unsupported-version"
        case .unknownKind: "unknown-kind"
        case .unknownCodec(let field, _): "unknown-codec:\(field.rawValue)"
        case .invalidCodecParameter(let field, _): "invalid-codec-parameter:\(field.rawValue)"
        case .codecNotAllowed: "codec-not-allowed"
        case .reservedNotZero(let field): "reserved-not-zero:\(field.rawValue)"
        case .lengthMismatch(let field, _, _): "length-mismatch:\(field.rawValue)"
        case .limitExceeded(let field, _, _): "limit-exceeded:\(field.rawValue)"
        case .checksumMismatch: "checksum-mismatch"
        case .specHashMismatch: "spec-hash-mismatch"
        case .parameterCountMismatch: "parameter-count-mismatch"
        case .nonFinite(let field, _): "non-finite:\(field.rawValue)"
        case .invalidScale: "invalid-scale"
        case .topkIndexOutOfRange: "topk-index-out-of-range"
        case .topkIndexDuplicate: "topk-index-duplicate"
        case .badVarint: "bad-varint"
        case .decompressionFailed: "decompression-failed"
        case .accumulatorSizeMismatch: "accumulator-size-mismatch"
        case .unencodableValue: "unencodable-value"
        case .unknownSettlementCode: "unknown-settlement-code"
        case .inconsistentInput(let field, _): "inconsistent-input:\(field.rawValue)"
        case .featureCountMismatch: "feature-count-mismatch"
        case .zeroCount: "zero-count"
        case .negativeVariance: "negative-variance"
        case .invalidDeviation: "invalid-deviation"
        case .invalidStreamRange: "invalid-stream-range"
        }
    }

    public var description: String {
        switch self {
        case .truncated(let field, let needed, let available):
            "truncated message: \(field.rawValue) needs \(needed) bytes, \(available) available"
        case .badMagic(let found):
            "bad magic: 0x\(String(found, radix: 16)) (expected \"FDQW\")"
        case .unsupportedFormatVersion(let version):
            "formatVersion \(version) is not supported (this build reads \(Envelope.formatVersion))"
        case .unknownKind(let kind): "kind \(kind) is unknown (1 update, 2 partial aggregate, 3 model version)"
        case .unknownCodec(let field, let id): "\(field.rawValue) id \(id) is unknown"
        case .invalidCodecParameter(let field, let value): "\(field.rawValue) has an invalid value \(value)"
        case .codecNotAllowed(let kind, let codec): "codec \(codec) is not allowed for a \(kind)"
        case .reservedNotZero(let field): "\(field.rawValue) must be zero"
        case .lengthMismatch(let field, let declared, let actual):
            "\(field.rawValue) declares \(declared) bytes but \(actual) are there"
        case .limitExceeded(let field, let value, let limit): "\(field.rawValue) \(value) exceeds the limit \(limit)"
        case .checksumMismatch(let declared, let computed):
            "checksum mismatch: trailer 0x\(String(declared, radix: 16)), computed 0x\(String(computed, radix: 16))"
        case .specHashMismatch(let expected, let found):
            "specHash 0x\(String(found, radix: 16)) does not match the model's 0x\(String(expected, radix: 16))"
        case .parameterCountMismatch(let expected, let found):
            "parameterCount \(found) does not match the model's \(expected)"
        case .nonFinite(let field, let index): "\(field.rawValue)[\(index)] is NaN or infinite"
        case .invalidScale(let block): "scale of block \(block) is negative, non-finite or too large"
        case .topkIndexOutOfRange(let position, let index, let count):
            "topkIndices[\(position)] = \(index) is out of range for \(count) parameters"
        case .topkIndexDuplicate(let position, let index): "topkIndices[\(position)] repeats index \(index)"
        case .badVarint(let position): "topkIndices[\(position)] is a malformed varint"
        case .decompressionFailed(let reason): "payload deflate stream is invalid: \(reason)"
        case .accumulatorSizeMismatch(let expected, let actual):
            "accumulator has \(actual) elements, the message has \(expected) parameters"
        case .unencodableValue(let index, let value): "value[\(index)] = \(value) cannot be encoded"
        case .unknownSettlementCode(let entry, let code):
            "settled[\(entry)] has reason code \(code), which is unknown (1 stale … 11 misrouted)"
        case .inconsistentInput(let field, let reason): "\(field.rawValue): \(reason)"
        case .featureCountMismatch(let expected, let found): "featureCount \(found) does not match the table's \(expected)"
        case .zeroCount: "count is 0: statistics of no rows"
        case .negativeVariance(let feature): "feature \(feature): sumsOfSquares/n is below mean², a negative variance"
        case .invalidDeviation(let feature): "deviation[\(feature)] is not finite and positive"
        case .invalidStreamRange(let first, let last): "stream range \(first)…\(last) ends before it starts"
        }
    }
}
