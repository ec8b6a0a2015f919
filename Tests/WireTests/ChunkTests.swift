import FedCore
import Testing
@testable import Wire

/// The chunk format and the reassembler's decisions, as values: no broker, no I/O.
@Suite struct ChunkTests {
    static let chunkSize = Chunk.minimumChunkSize
    /// An fp32 update of 5,000 parameters: 20,092 bytes, five chunks of 4,096 (the last 3,708).
    static let message = Fixture.message(codec: "fp32", values: Fixture.update(count: 5000, seed: 11))
    static let limits = ChunkReassembler<Int>.Limits(maxMessageBytes: 1 << 20, maxChunks: 16, maxOpenSets: 2, timeout: .seconds(10))

    static func chunks(_ message: [UInt8] = message) -> [[UInt8]] { Chunk.split(message, chunkSize: chunkSize) }

    /// Reassembles `bodies` in the given order, tokens = positions; returns the outcomes.
    static func feed(
        _ bodies: [[UInt8]], into reassembler: inout ChunkReassembler<Int>, now: ContinuousClock.Instant = .now, from: Int = 0
    ) -> [ChunkReassembler<Int>.Outcome] {
        bodies.enumerated().flatMap { reassembler.receive($1, token: from + $0, now: now) }
    }

    @Test func aMessageThatFitsIsNotChunked() {
        #expect(Chunk.split(Self.message, chunkSize: Self.message.count) == [Self.message])
        #expect(Chunk.messageCount(length: 100, chunkSize: 100) == 1)
        #expect(Chunk.messageCount(length: 101, chunkSize: 100) == 2)
    }

    @Test func splitLayoutIsByteExact() throws {
        let bodies = Self.chunks()
        #expect(bodies.count == 5)
        #expect(bodies.map(\.count) == [4148, 4148, 4148, 4148, 3760])
        let first = bodies[0]
        #expect(Array(first[0..<4]) == Array("FDQK".utf8))
        #expect(first[4] == 1 && first[5] == 0)  // format version 1
        #expect(first[6] == 1 && first[7] == 0)  // kind: client update
        #expect(Array(first[8..<24]) == Array(Self.message[40..<56]))  // the envelope's id
        #expect(Array(first[24..<32]) == [0x7C, 0x4E, 0, 0, 0, 0, 0, 0])  // 20,092
        #expect(Array(first[32..<36]) == Array(Self.message[(Self.message.count - 4)...]))  // the envelope's CRC
        #expect(Array(first[36..<40]) == [0, 0x10, 0, 0])  // 4,096
        #expect(Array(first[40..<44]) == [5, 0, 0, 0])
        #expect(Array(first[44..<48]) == [0, 0, 0, 0])
        #expect(Array(first[48..<4144]) == Array(Self.message[0..<4096]))
        let crc = CRC32C.checksum(first[..<4144])
        #expect(Array(first[4144...]) == [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
        let last = try Chunk(parsing: bodies[4], maxMessageBytes: 1 << 20)
        #expect(last.index == 4)
        #expect(Array(last.fragment) == Array(Self.message[16384...]))
    }

    @Test func inOrderAndShuffledSetsReassembleToTheSameBytes() throws {
        for order in [[0, 1, 2, 3, 4], [4, 2, 0, 3, 1]] {
            var reassembler = ChunkReassembler<Int>(limits: Self.limits)
            let bodies = Self.chunks()
            let outcomes = Self.feed(order.map { bodies[$0] }, into: &reassembler)
            #expect(outcomes.count == 1)
            guard case .whole(let bytes, let key, let tokens) = try #require(outcomes.first) else {
                Issue.record("expected a whole message, got \(outcomes)")
                continue
            }
            #expect(bytes == Self.message)
            #expect(key.chunkCount == 5)
            #expect(tokens == [0, 1, 2, 3, 4])
            #expect(reassembler.openSets == 0)
            // The envelope inside decodes whole, its own checksum verified.
            #expect(try Envelope(bytes: bytes).decode() == Fixture.update(count: 5000, seed: 11))
        }
    }

    @Test func anIdenticalRetrySettlesWithItsSetAndLateRetriesAreNotCountedAgain() {
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)
        let bodies = Self.chunks()
        // Chunks 0-2, then the publisher's whole retry: 0-2 again (held with the set), 3, 4.
        let outcomes = Self.feed(Array(bodies[0..<3]) + bodies, into: &reassembler)
        #expect(outcomes.count == 1)
        guard case .whole(let bytes, _, let tokens) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(bytes == Self.message)
        #expect(tokens.sorted() == [0, 1, 2, 3, 4, 5, 6, 7])
        // A third copy of chunk 2 after completion: a retry, settled and counted nowhere.
        let late = reassembler.receive(bodies[2], token: 99)
        guard case .retry(99) = late.first else { Issue.record("\(late)"); return }
    }

    @Test func aConflictingChunkIsRefusedAloneAsADuplicateAndTheSetStillCompletes() {
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)
        var bodies = Self.chunks()
        let set = try! Chunk(parsing: bodies[1], maxMessageBytes: 1 << 20)
        var forged = Array(set.fragment)
        forged[0] ^= 0xFF
        let forgery = Chunk(key: set.key, index: 1, fragment: forged[...]).encoded()
        // The honest chunk 1 came first: the forgery (valid chunk CRC) is refused as a duplicate.
        bodies.insert(forgery, at: 2)
        let outcomes = Self.feed(bodies, into: &reassembler)
        #expect(outcomes.count == 2)
        guard case .refused(.conflictingDuplicate(index: 1), let id, [2]) = outcomes[0] else { Issue.record("\(outcomes)"); return }
        #expect(id == FNV1a128.digest(forgery))
        #expect(id != set.key.messageID)  // never the id it claims
        guard case .whole(let bytes, _, let tokens) = outcomes[1] else { Issue.record("\(outcomes)"); return }
        #expect(bytes == Self.message)
        #expect(tokens == [0, 1, 3, 4, 5])
    }

    @Test func aForgedChunkThatArrivesFirstSpoilsOnlyItsOwnSetWhenItDoesNotKnowTheChecksum() {
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)
        let bodies = Self.chunks()
        let set = try! Chunk(parsing: bodies[0], maxMessageBytes: 1 << 20)
        var key = set.key
        key.messageCRC ^= 1  // the forger knows the id, not the whole message's checksum
        let forgery = Chunk(key: key, index: 0, fragment: set.fragment).encoded()
        let outcomes = Self.feed([forgery] + bodies, into: &reassembler, from: 0)
        #expect(outcomes.count == 1)
        guard case .whole(let bytes, _, let tokens) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(bytes == Self.message)
        #expect(tokens == [1, 2, 3, 4, 5])
        #expect(reassembler.openSets == 1)  // the forgery's set, given up later
        let expired = reassembler.expire(now: .now + .seconds(11))
        guard case .refused(.incomplete(received: 1, count: 5), let id, [0]) = expired.first else { Issue.record("\(expired)"); return }
        #expect(id == key.digest)
        #expect(id != set.key.digest)
    }

    @Test func aSetWhoseChecksumIsWrongIsRefusedWholeOnce() {
        // A whole forged set, self-consistent chunks, but its claimed checksum is not its bytes'.
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)
        let set = try! Chunk(parsing: Self.chunks()[0], maxMessageBytes: 1 << 20)
        var key = set.key
        key.messageCRC ^= 0xDEAD
        let forged = (0..<5).map { index in
            let start = index * Self.chunkSize
            return Chunk(key: key, index: UInt32(index), fragment: Self.message[start..<min(Self.message.count, start + Self.chunkSize)]).encoded()
        }
        let outcomes = Self.feed(forged, into: &reassembler)
        guard case .refused(.wholeChecksumMismatch, let id, let tokens) = outcomes.first, outcomes.count == 1 else {
            Issue.record("\(outcomes)"); return
        }
        #expect(id == key.digest)
        #expect(tokens == [0, 1, 2, 3, 4])
        // A redelivered chunk of it is refused under the same id: the books count it once.
        guard case .refused(_, let again, [9]) = reassembler.receive(forged[3], token: 9).first else { Issue.record("late"); return }
        #expect(again == id)
    }

    @Test func aLostChunkMeansNoMessageAndOneRejectionAfterTheTimeout() {
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)
        let start = ContinuousClock.now
        let bodies = Self.chunks()
        #expect(Self.feed([bodies[0], bodies[1], bodies[3], bodies[4]], into: &reassembler, now: start).isEmpty)
        #expect(reassembler.heldChunks == 4)
        #expect(reassembler.expire(now: start + .seconds(9)).isEmpty)
        let expired = reassembler.expire(now: start + .seconds(10))
        #expect(expired.count == 1)
        guard case .refused(.incomplete(received: 4, count: 5), _, [0, 1, 2, 3]) = expired.first else { Issue.record("\(expired)"); return }
        #expect(reassembler.openSets == 0 && reassembler.heldChunks == 0)
    }

    @Test func interleavedSetsOfDifferentMessagesEachComplete() {
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)
        let other = Fixture.message(codec: "fp32", values: Fixture.update(count: 4000, seed: 12), seed: 8)
        let a = Self.chunks()
        let b = Self.chunks(other)
        var interleaved: [[UInt8]] = []
        for i in 0..<5 {
            interleaved.append(a[i])
            if i < b.count { interleaved.append(b[i]) }
        }
        let wholes = Self.feed(interleaved, into: &reassembler).compactMap { outcome -> [UInt8]? in
            if case .whole(let bytes, _, _) = outcome { return bytes } else { return nil }
        }
        #expect(wholes == [other, Self.message])
    }

    @Test func tooManyOpenSetsGiveUpTheOldest() {
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)  // two open sets at most
        let messages = (0..<3).map { Fixture.message(codec: "fp32", values: Fixture.update(count: 5000, seed: 20 + UInt64($0)), seed: 30 + UInt64($0)) }
        let start = ContinuousClock.now
        let outcomes = messages.enumerated().flatMap { index, message in
            reassembler.receive(Self.chunks(message)[0], token: index, now: start + .milliseconds(index))
        }
        #expect(outcomes.count == 1)
        guard case .refused(.evicted(received: 1, count: 5), _, [0]) = outcomes.first else { Issue.record("\(outcomes)"); return }
        #expect(reassembler.openSets == 2)
    }

    @Test(arguments: [
        ("truncated", ChunkError.truncated(10)), ("magic", .badMagic), ("version", .unsupportedVersion(2)),
        ("kind", .badKind(9)), ("index", .indexOutOfRange(index: 5, count: 5)),
        ("count", .countMismatch(count: 6, expected: 5)), ("size", .chunkSizeTooSmall(100)),
        ("total", .tooLarge(total: 1 << 40, limit: 1 << 20)), ("length", .lengthMismatch(4149, expected: 4148)),
        ("crc", .checksumMismatch), ("reserved", .reservedNotZero),
    ])
    func hostileChunksAreRefusedTypedUnderTheirBytesDigest(name: String, expected: ChunkError) {
        var body = Self.chunks()[0]
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { body[offset + i] = byte } }
        }
        func reseal() { put(CRC32C.checksum(body[..<(body.count - 4)]), at: body.count - 4) }
        switch name {
        case "truncated": body = Array(body[0..<10])
        case "magic": body[3] = 0x57; reseal()
        case "version": put(UInt16(2), at: 4); reseal()
        case "kind": body[6] = 9; reseal()
        case "reserved": body[7] = 1; reseal()
        case "index": put(UInt32(5), at: 44); reseal()
        case "count": put(UInt32(6), at: 40); reseal()
        case "size": put(UInt32(100), at: 36); reseal()
        case "total": put(UInt64(1) << 40, at: 24); reseal()
        case "length": body.insert(0, at: 100); reseal()
        case "crc": body[200] ^= 1
        default: Issue.record("no case \(name)")
        }
        #expect(throws: expected) { try Chunk(parsing: body, maxMessageBytes: 1 << 20) }
        var reassembler = ChunkReassembler<Int>(limits: Self.limits)
        let outcomes = reassembler.receive(body, token: 7)
        guard case .refused(let error, let id, [7]) = outcomes.first, outcomes.count == 1 else { Issue.record("\(outcomes)"); return }
        #expect(error == expected)
        #expect(id == FNV1a128.digest(body))
        #expect(error.rejectionReason == .malformed)
        #expect(reassembler.openSets == 0)
    }

    @Test func aSetOfMoreChunksThanTheReceiverHoldsIsRefused() {
        var limits = Self.limits
        limits.maxChunks = 4
        var reassembler = ChunkReassembler<Int>(limits: limits)
        let outcomes = reassembler.receive(Self.chunks()[0], token: 0)
        guard case .refused(.tooManyChunks(count: 5, limit: 4), _, [0]) = outcomes.first else { Issue.record("\(outcomes)"); return }
    }

    @Test func theRejectionReasonsAreTheBooksOwn() {
        #expect(ChunkError.conflictingDuplicate(index: 0).rejectionReason == .duplicate)
        #expect(ChunkError.incomplete(received: 1, count: 2).reasonCode == "chunks-incomplete")
        #expect(ChunkError.wholeChecksumMismatch.rejectionReason == .malformed)
    }
}
