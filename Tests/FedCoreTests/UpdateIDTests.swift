import FedCore
import Testing

struct UpdateIDTests {
    /// Bytes, hex and words are three spellings of one id: the envelope's 16 bytes are
    /// big-endian words, and the AMQP message id is the bytes in hex, in order.
    @Test func bytesHexAndWordsAgree() throws {
        let id = UpdateID(high: 0x0011_2233_4455_6677, low: 0x8899_AABB_CCDD_EEFF)
        #expect(id.bytes == [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF])
        #expect(id.hex == "00112233445566778899aabbccddeeff")
        #expect(id.description == id.hex)
        #expect(try UpdateID(bytes: id.bytes) == id)
        #expect(UpdateID(hex: id.hex) == id)
        #expect(UpdateID(hex: id.hex.uppercased()) == id)
        let reader = id.bytes.withUnsafeBytes { ByteReader($0).updateID(at: 0) }
        #expect(reader == id)
    }

    @Test func malformedSpellingsAreRefused() {
        #expect(throws: UpdateIDError.wrongByteCount(15)) { try UpdateID(bytes: [UInt8](repeating: 0, count: 15)) }
        #expect(UpdateID(hex: String(repeating: "a", count: 31)) == nil)
        #expect(UpdateID(hex: String(repeating: "g", count: 32)) == nil)
        #expect(UpdateID(hex: "") == nil)
    }

    @Test func seededIDsRepeatAndOrderByWords() {
        var first = SplitMix64(seed: 3)
        var second = SplitMix64(seed: 3)
        let a = (0..<100).map { _ in UpdateID.random(using: &first) }
        let b = (0..<100).map { _ in UpdateID.random(using: &second) }
        #expect(a == b)
        #expect(Set(a).count == 100)
        #expect(UpdateID(high: 1, low: 0) > UpdateID(high: 0, low: .max))
    }
}

struct RejectionReasonTests {
    /// One name per reason, used in fedq.dead, updates.csv, summary.json and /metrics; the
    /// wire bytes are part of the partial format and never change.
    @Test func namesAndWireBytesAreFixed() throws {
        let expected: [(RejectionReason, UInt8, String)] = [
            (.stale, 1, "stale"), (.malformed, 2, "malformed"), (.wrongModel, 3, "wrong-model"),
            (.nonFinite, 4, "non-finite"), (.outOfBounds, 5, "out-of-bounds"), (.duplicate, 6, "duplicate"),
            (.wrongRound, 7, "wrong-round"), (.privacyBudget, 8, "privacy-budget"), (.unauthenticated, 9, "unauthenticated"),
            (.rateLimited, 10, "rate-limited"),
            (.misrouted, 11, "misrouted"),
        ]
        #expect(RejectionReason.allCases.count == expected.count)
        for (reason, byte, name) in expected {
            #expect(reason.rawValue == byte)
            #expect(reason.name == name)
            #expect(RejectionReason(name: name) == reason)
            #expect(reason.isRejection == (reason != .stale))
        }
        #expect(RejectionReason(rawValue: 0) == nil && RejectionReason(rawValue: 12) == nil)
        #expect(RejectionReason(name: "checksum-mismatch") == nil)
    }
}

struct ByteReaderTests {
    @Test func cursorReadsStopAtTheEnd() {
        let bytes: [UInt8] = [1, 0, 0, 0, 0x00, 0x00, 0x80, 0x3F, 9]
        bytes.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            #expect(reader.read(UInt32.self) == 1)
            #expect(reader.readFloats(count: 1) == [1.0])
            #expect(reader.read(UInt16.self) == nil)  // one byte left
            #expect(reader.offset == 8)
            #expect(reader.read(count: 2) == nil)
            #expect(reader.read(count: 1) == [9])
            #expect(reader.remaining == 0)
            #expect(reader.peek(at: 6, as: UInt32.self) == nil)
        }
    }
}
