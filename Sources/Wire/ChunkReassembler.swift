import FedCore

/// The receiver's decisions about chunks, with no I/O: bytes and a handle in (a broker
/// delivery for the roles, anything for tests), and out what to do with the handles: hand
/// on a whole message, hold, settle a retry, or refuse, each refusal typed and named by an
/// id the books can use.
///
/// Bounded in memory and time: at most `maxOpenSets` incomplete sets (a new one gives up the
/// oldest), each at most `maxChunks` chunks of a message at most `maxMessageBytes`, and a set
/// still incomplete `timeout` after its first chunk is given up (`expire`). A set given up is
/// refused as a whole, once, under `SetKey.digest`; a chunk refused alone (it does not parse,
/// or conflicts with a chunk held) under the FNV-1a digest of its bytes. Neither is ever the
/// id the chunk claims, so a forger cannot get an honest update booked.
///
/// Effectively once: a whole message's handles are settled only after the whole message
/// was (the caller's job), so a crash before that returns every chunk to the broker; a chunk
/// identical to one held (a publisher's retry) is settled with its set and counted nowhere; a
/// chunk of a set completed recently (the rest of a retry) is settled at once, counted nowhere
/// (the whole message it belongs to is already on its way).
public struct ChunkReassembler<Token: Sendable>: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Largest whole message taken.
        public var maxMessageBytes: Int
        /// Most chunks one message may have: the receiver's prefetch must hold `maxOpenSets`
        /// sets of this many, or sets could never complete while their chunks are held
        /// unacknowledged (`ChunkedMessages.prefetch`).
        public var maxChunks: Int
        /// Most incomplete sets held at once.
        public var maxOpenSets: Int
        /// How long a set may stay incomplete after its first chunk.
        public var timeout: Duration

        public init(maxMessageBytes: Int, maxChunks: Int, maxOpenSets: Int = 8, timeout: Duration = .seconds(60)) {
            self.maxMessageBytes = maxMessageBytes
            self.maxChunks = max(2, maxChunks)
            self.maxOpenSets = max(1, maxOpenSets)
            self.timeout = timeout
        }
    }

    /// What to do with the handles of one decision.
    public enum Outcome: Sendable {
        /// Every chunk arrived and the bytes end in the CRC the chunks claimed: hand the
        /// message on; settle `tokens` (its chunks and any identical retries) once it was.
        case whole(bytes: [UInt8], key: Chunk.SetKey, tokens: [Token])
        /// A chunk of a set completed recently, the rest of a publisher's retry: settle it,
        /// count it nowhere.
        case retry(Token)
        /// Refused: park `tokens`, book one rejection under `id` (with the reason
        /// `error.rejectionReason`), then settle them.
        case refused(ChunkError, id: UpdateID, tokens: [Token])
    }

    private struct OpenSet: Sendable {
        var fragments: [ArraySlice<UInt8>?]
        var received = 0
        var tokens: [Token] = []
        let started: ContinuousClock.Instant
    }

    public let limits: Limits
    private var open: [Chunk.SetKey: OpenSet] = [:]
    /// Sets recently finished: true completed (a late chunk is a retry), false given up (a
    /// late chunk is refused under the set's id again, which the books already hold).
    private var finished = RecentWindow<Chunk.SetKey, Bool>(capacity: 4096)

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Incomplete sets held now.
    public var openSets: Int { open.count }
    /// Chunks held in incomplete sets now.
    public var heldChunks: Int { open.values.reduce(0) { $0 + $1.received } }

    /// Takes one chunk (bytes starting `FDQK`; see `Chunk.isChunk`). Returns zero, one or
    /// two outcomes (an eviction, then this chunk's); nothing means held.
    public mutating func receive(_ bytes: [UInt8], token: Token, now: ContinuousClock.Instant = .now) -> [Outcome] {
        let chunk: Chunk
        do throws(ChunkError) {
            chunk = try Chunk(parsing: bytes, maxMessageBytes: limits.maxMessageBytes)
        } catch {
            return [.refused(error, id: FNV1a128.digest(bytes), tokens: [token])]
        }
        let key = chunk.key
        if let completed = finished[key] {
            return [completed ? .retry(token) : .refused(.incomplete(received: 0, count: key.chunkCount), id: key.digest, tokens: [token])]
        }
        guard Int(key.chunkCount) <= limits.maxChunks else {
            return [.refused(.tooManyChunks(count: key.chunkCount, limit: limits.maxChunks), id: FNV1a128.digest(bytes), tokens: [token])]
        }
        var outcomes: [Outcome] = []
        if open[key] == nil {
            if open.count >= limits.maxOpenSets, let oldest = open.min(by: { $0.value.started < $1.value.started }) {
                outcomes.append(giveUp(oldest.key, as: .evicted(received: oldest.value.received, count: oldest.key.chunkCount)))
            }
            let count = Int(key.chunkCount)
            open[key] = OpenSet(fragments: Array(repeating: nil, count: count), started: now)
        }
        let index = Int(chunk.index)
        if let held = open[key]!.fragments[index] {
            // The same bytes again: a retry, settled with its set. Other bytes: refused alone.
            if held == chunk.fragment {
                open[key]!.tokens.append(token)
            } else {
                outcomes.append(.refused(.conflictingDuplicate(index: chunk.index), id: FNV1a128.digest(bytes), tokens: [token]))
            }
            return outcomes
        }
        open[key]!.fragments[index] = chunk.fragment
        open[key]!.received += 1
        open[key]!.tokens.append(token)
        if open[key]!.received == Int(key.chunkCount) { outcomes.append(complete(key)) }
        return outcomes
    }

    /// Gives up the sets still incomplete `timeout` after their first chunk.
    public mutating func expire(now: ContinuousClock.Instant = .now) -> [Outcome] {
        let overdue = open.filter { now - $0.value.started >= limits.timeout }.sorted { $0.value.started < $1.value.started }
        return overdue.map { giveUp($0.key, as: .incomplete(received: $0.value.received, count: $0.key.chunkCount)) }
    }

    private mutating func complete(_ key: Chunk.SetKey) -> Outcome {
        let set = open.removeValue(forKey: key)!
        var whole: [UInt8] = []
        whole.reserveCapacity(Int(key.totalLength))
        for fragment in set.fragments { whole += fragment! }
        let crc = whole.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[..<(whole.count - 4)])) }
        let trailer = whole.withUnsafeBytes { ByteReader($0).read(at: whole.count - 4) as UInt32 }
        guard crc == key.messageCRC, trailer == key.messageCRC else {
            finished.insert(key, false)
            return .refused(.wholeChecksumMismatch, id: key.digest, tokens: set.tokens)
        }
        finished.insert(key, true)
        return .whole(bytes: whole, key: key, tokens: set.tokens)
    }

    private mutating func giveUp(_ key: Chunk.SetKey, as error: ChunkError) -> Outcome {
        let set = open.removeValue(forKey: key)!
        finished.insert(key, false)
        return .refused(error, id: key.digest, tokens: set.tokens)
    }
}
