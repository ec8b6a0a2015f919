import FedCore

/// Why a chunk, or a set of chunks, was refused. Every one is input from the network: each
/// is typed, counted under its `rejectionReason` with `reasonCode` as the detail, and never
/// ends a process.
public enum ChunkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Shorter than a header and a trailer.
    case truncated(Int)
    case badMagic
    case unsupportedVersion(UInt16)
    /// Not a client update, partial or model version.
    case badKind(UInt8)
    case reservedNotZero
    case chunkSizeTooSmall(Int)
    /// The whole message would be larger than the receiver takes.
    case tooLarge(total: UInt64, limit: Int)
    /// The chunk count is not `ceil(totalLength / chunkSize)` (or the message would fit in one).
    case countMismatch(count: UInt32, expected: Int)
    case indexOutOfRange(index: UInt32, count: UInt32)
    /// The chunk's length is not its header, its fragment's exact length and the trailer.
    case lengthMismatch(Int, expected: Int)
    /// The chunk's own CRC-32C does not match: altered in flight, or forged carelessly.
    case checksumMismatch
    /// Another chunk with the same set and index but other bytes is already held: a forgery
    /// or a corrupt sender. The first one stays; this one is refused.
    case conflictingDuplicate(index: UInt32)
    /// More chunks than the receiver can hold unacknowledged at once: such a set could never
    /// complete within its prefetch.
    case tooManyChunks(count: UInt32, limit: Int)
    /// The set did not complete within the receiver's time limit (a chunk lost, or never sent).
    case incomplete(received: Int, count: UInt32)
    /// The receiver held as many open sets as it may; the oldest was given up for a new one.
    case evicted(received: Int, count: UInt32)
    /// Reassembled, the bytes do not end in the CRC every chunk claimed.
    case wholeChecksumMismatch

    /// The reason the chunk (or set) is booked under: a conflicting chunk is a `duplicate`,
    /// anything else bytes that are not a valid message, `malformed`.
    public var rejectionReason: RejectionReason {
        switch self {
        case .conflictingDuplicate: .duplicate
        default: .malformed
        }
    }

    /// The detail beside the reason (`x-fedq-detail`, logs), one stable spelling per case.
    public var reasonCode: String {
        switch self {
        case .truncated: "chunk-truncated"
        case .badMagic: "chunk-magic"
        case .unsupportedVersion: "chunk-version"
        case .badKind: "chunk-kind"
        case .reservedNotZero: "chunk-reserved"
        case .chunkSizeTooSmall: "chunk-size"
        case .tooLarge: "chunk-total-too-large"
        case .countMismatch: "chunk-count-mismatch"
        case .indexOutOfRange: "chunk-index"
        case .lengthMismatch: "chunk-length"
        case .checksumMismatch: "chunk-checksum-mismatch"
        case .conflictingDuplicate: "chunk-duplicate"
        case .tooManyChunks: "chunk-count-over-limit"
        case .incomplete: "chunks-incomplete"
        case .evicted: "chunks-evicted"
        case .wholeChecksumMismatch: "chunks-checksum-mismatch"
        }
    }

    public var description: String {
        switch self {
        case .truncated(let n): "chunk of \(n) bytes is shorter than its header and trailer"
        case .badMagic: "not a chunk (magic)"
        case .unsupportedVersion(let v): "chunk format version \(v) unknown"
        case .badKind(let k): "chunk of message kind \(k)"
        case .reservedNotZero: "chunk reserved byte not zero"
        case .chunkSizeTooSmall(let s): "chunk size \(s) below \(Chunk.minimumChunkSize)"
        case .tooLarge(let total, let limit): "chunked message of \(total) bytes over the limit \(limit)"
        case .countMismatch(let count, let expected): "chunk count \(count), expected \(expected)"
        case .indexOutOfRange(let index, let count): "chunk index \(index) of \(count)"
        case .lengthMismatch(let n, let expected): "chunk of \(n) bytes, expected \(expected)"
        case .checksumMismatch: "chunk checksum mismatch"
        case .conflictingDuplicate(let index): "a different chunk \(index) of the same set is already held"
        case .tooManyChunks(let count, let limit): "\(count) chunks, more than the \(limit) this receiver holds"
        case .incomplete(let received, let count): "set given up with \(received) of \(count) chunks (timed out)"
        case .evicted(let received, let count): "set given up with \(received) of \(count) chunks (too many open sets)"
        case .wholeChecksumMismatch: "reassembled message does not match its checksum"
        }
    }
}
