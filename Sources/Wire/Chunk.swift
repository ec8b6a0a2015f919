import FedCore

/// One piece of a message too large for one broker message (docs/wire-format.md, "Chunks").
///
/// RabbitMQ 4 refuses messages over 16 MiB by default (`max_message_size`) and large
/// messages hold up a quorum queue's log, so an envelope longer than the chunk size travels
/// as `ceil(length / chunkSize)` chunks, each a 48-byte header, a fragment of the envelope
/// and a CRC-32C of the chunk. Every chunk repeats what identifies its set (the envelope's
/// id, kind, length, trailer CRC and the chunk size), so a receiver needs no other state to
/// place a chunk and a set is told apart from a forgery that does not know the whole
/// message's checksum. The envelope inside stays authoritative: after reassembly it is
/// validated whole, its own CRC over every byte included.
public struct Chunk: Sendable, Equatable {
    /// What every chunk of one message repeats: the set a chunk belongs to.
    public struct SetKey: Hashable, Sendable, CustomStringConvertible {
        /// The envelope's `updateID` (header bytes 40–55).
        public var messageID: UpdateID
        /// The envelope's `kind` byte.
        public var kind: UInt8
        /// Bytes of the whole envelope.
        public var totalLength: UInt64
        /// The whole envelope's CRC-32C trailer (its last four bytes).
        public var messageCRC: UInt32
        /// Bytes of every fragment but the last.
        public var chunkSize: UInt32
        /// `ceil(totalLength / chunkSize)`, at least 2.
        public var chunkCount: UInt32

        public var description: String { "\(messageID) (\(chunkCount) chunks of \(totalLength) bytes)" }

        /// A stable 128-bit name for the set that is not the id it claims (FNV-1a over its
        /// fields): what an abandoned set is booked under, so a forger claiming an honest
        /// update's id never gets the honest update booked.
        public var digest: UpdateID {
            var bytes = messageID.bytes
            bytes.append(kind)
            bytes.appendLittleEndian(totalLength)
            bytes.appendLittleEndian(messageCRC)
            bytes.appendLittleEndian(chunkSize)
            bytes.appendLittleEndian(chunkCount)
            return FNV1a128.digest(bytes)
        }
    }

    /// ASCII `FDQK`.
    public static let magic: [UInt8] = Array("FDQK".utf8)
    public static let formatVersion: UInt16 = 1
    public static let headerLength = 48
    public static let trailerLength = 4
    /// Chunk sizes below this are refused (sender and receiver): a 40 MB message in
    /// 1-byte chunks would be forty million messages.
    public static let minimumChunkSize = 4096
    /// The default chunk size: well under RabbitMQ 4's 16 MiB limit, small enough that a
    /// quorum queue's log moves in pieces.
    public static let defaultChunkSize = 4 << 20

    public var key: SetKey
    /// 0-based position of the fragment.
    public var index: UInt32
    /// Bytes `index · chunkSize ..< min(totalLength, (index + 1) · chunkSize)` of the envelope.
    public var fragment: ArraySlice<UInt8>

    /// Whether `bytes` start like a chunk (its magic), which is how a consumer tells a
    /// chunk from a whole envelope (`FDQW`) on the same queue.
    public static func isChunk(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == magic[0] && bytes[1] == magic[1] && bytes[2] == magic[2] && bytes[3] == magic[3]
    }

    /// How many messages `length` bytes travel as with `chunkSize` (1: not chunked).
    public static func messageCount(length: Int, chunkSize: Int) -> Int {
        length <= chunkSize ? 1 : (length + chunkSize - 1) / chunkSize
    }

    /// The bodies `message` travels as: itself when it fits in `chunkSize`, else its chunks
    /// in order. `message` must be an envelope (its id and trailer are read from it).
    public static func split(_ message: [UInt8], chunkSize: Int) -> [[UInt8]] {
        precondition(chunkSize >= minimumChunkSize, "chunk size below \(minimumChunkSize)")
        guard message.count > chunkSize else { return [message] }
        precondition(message.count >= Envelope.headerByteCount + trailerLength, "not an envelope")
        let id = message.withUnsafeBytes { ByteReader($0).updateID(at: 40) }
        let crc = message.withUnsafeBytes { ByteReader($0).read(at: message.count - 4) as UInt32 }
        let count = messageCount(length: message.count, chunkSize: chunkSize)
        let key = SetKey(
            messageID: id, kind: message[6], totalLength: UInt64(message.count), messageCRC: crc,
            chunkSize: UInt32(chunkSize), chunkCount: UInt32(count))
        return (0..<count).map { index in
            let start = index * chunkSize
            let fragment = message[start..<min(message.count, start + chunkSize)]
            return Chunk(key: key, index: UInt32(index), fragment: fragment).encoded()
        }
    }

    public init(key: SetKey, index: UInt32, fragment: ArraySlice<UInt8>) {
        self.key = key
        self.index = index
        self.fragment = fragment
    }

    /// The chunk's bytes: header, fragment, CRC-32C of both.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerLength + fragment.count + Self.trailerLength)
        bytes += Self.magic
        bytes.appendLittleEndian(Self.formatVersion)
        bytes.append(key.kind)
        bytes.append(0)
        bytes += key.messageID.bytes
        bytes.appendLittleEndian(key.totalLength)
        bytes.appendLittleEndian(key.messageCRC)
        bytes.appendLittleEndian(key.chunkSize)
        bytes.appendLittleEndian(key.chunkCount)
        bytes.appendLittleEndian(index)
        bytes += fragment
        bytes.appendLittleEndian(CRC32C.checksum(bytes))
        return bytes
    }

    /// Parses and checks one chunk from the network, in the order docs/wire-format.md lists;
    /// the fragment is a slice of `bytes` (no copy).
    /// - Parameter maxMessageBytes: the largest whole message the receiver takes.
    /// - Throws: the first check that fails, typed.
    public init(parsing bytes: [UInt8], maxMessageBytes: Int) throws(ChunkError) {
        guard bytes.count >= Self.headerLength + Self.trailerLength else { throw .truncated(bytes.count) }
        guard Self.isChunk(bytes) else { throw .badMagic }
        let fields = bytes.withUnsafeBytes { raw in
            let reader = ByteReader(raw)
            return (
                version: reader.read(at: 4) as UInt16, reserved: reader.read(at: 7) as UInt8, id: reader.updateID(at: 8),
                total: reader.read(at: 24) as UInt64, crc: reader.read(at: 32) as UInt32, size: reader.read(at: 36) as UInt32,
                count: reader.read(at: 40) as UInt32, index: reader.read(at: 44) as UInt32,
                trailer: reader.read(at: bytes.count - 4) as UInt32)
        }
        guard fields.version == Self.formatVersion else { throw .unsupportedVersion(fields.version) }
        let kind = bytes[6]
        guard kind >= 1 && kind <= 3 else { throw .badKind(kind) }
        guard fields.reserved == 0 else { throw .reservedNotZero }
        let size = Int(fields.size)
        guard size >= Self.minimumChunkSize else { throw .chunkSizeTooSmall(size) }
        guard fields.total <= UInt64(maxMessageBytes) else { throw .tooLarge(total: fields.total, limit: maxMessageBytes) }
        let total = Int(fields.total)
        // A message that fits in one chunk is never chunked: its count would be 1.
        guard total > size else { throw .countMismatch(count: fields.count, expected: 1) }
        let expected = Self.messageCount(length: total, chunkSize: size)
        guard Int(fields.count) == expected else { throw .countMismatch(count: fields.count, expected: expected) }
        guard fields.index < fields.count else { throw .indexOutOfRange(index: fields.index, count: fields.count) }
        let start = Int(fields.index) * size
        let fragmentLength = min(size, total - start)
        let length = Self.headerLength + fragmentLength + Self.trailerLength
        guard bytes.count == length else { throw .lengthMismatch(bytes.count, expected: length) }
        guard CRC32C.checksum(bytes[..<(bytes.count - 4)]) == fields.trailer else { throw .checksumMismatch }
        key = SetKey(
            messageID: fields.id, kind: kind, totalLength: fields.total, messageCRC: fields.crc, chunkSize: fields.size,
            chunkCount: fields.count)
        index = fields.index
        fragment = bytes[Self.headerLength..<(Self.headerLength + fragmentLength)]
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
