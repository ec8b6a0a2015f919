import Foundation
import Testing
@testable import Wire

/// Mutates valid messages and checks that decoding gives a typed error or a valid update, never a
/// crash, an out-of-bounds read or a non-finite value. Runs 100,000 cases by default; set
/// `FEDQ_FUZZ_CASES` for a longer run and `FEDQ_FUZZ_SEED` to vary the seed.
@Suite struct FuzzTests {
    static var cases: Int { ProcessInfo.processInfo.environment["FEDQ_FUZZ_CASES"].flatMap(Int.init) ?? 100_000 }
    static var seed: UInt64 { ProcessInfo.processInfo.environment["FEDQ_FUZZ_SEED"].flatMap(UInt64.init) ?? 0xF0ED }

    static let corpus: [[UInt8]] = {
        let small = Fixture.update(count: 300, seed: 1)
        var corpus = RoundTripTests.allCodecs.map { Fixture.message(codec: $0, values: small) }
        corpus.append(Fixture.message(codec: "fp32", values: small, kind: .partialAggregate))
        corpus.append(Fixture.message(codec: "int8+deflate", values: small, kind: .partialAggregate))
        corpus.append(Fixture.message(codec: "fp16", values: small, kind: .modelVersion))
        corpus.append(Fixture.message(codec: "topk:0.1+int8:256", values: Fixture.update(count: 1200, seed: 2)))
        return corpus
    }()

    @Test func mutatedMessagesNeverCrash() {
        var generator = SplitMix64(seed: Self.seed)
        var accepted = 0
        var rejected: [String: Int] = [:]
        let limits = DecodeLimits(maxParameterCount: 1 << 16, maxMessageBytes: 1 << 20, maxPartialEntries: 64)
        for _ in 0..<Self.cases {
            let original = Self.corpus[Int(generator.next() % UInt64(Self.corpus.count))]
            var bytes = Self.mutate(original, using: &generator)
            // Most cases get a fresh checksum so the mutation reaches the checks behind it.
            if generator.next() % 8 != 0 { bytes = Fixture.resealed(bytes) }
            do {
                let envelope = try Envelope(bytes: bytes, limits: limits)
                let decoded = envelope.decode()
                #expect(decoded.count == envelope.header.parameterCount)
                #expect(decoded.allSatisfy { $0.isFinite })
                accepted += 1
            } catch {
                rejected[error.reasonCode.split(separator: ":").first.map(String.init) ?? "", default: 0] += 1
            }
        }
        #expect(accepted + rejected.values.reduce(0, +) == Self.cases)
        // The mutations must reach deep checks, not only the checksum.
        for reason in ["checksum-mismatch", "topk-index-duplicate", "bad-varint", "length-mismatch", "non-finite"] {
            #expect(rejected[reason, default: 0] > 0, "no case reached \(reason): \(rejected)")
        }
        #expect(accepted > 0)
    }

    static func mutate(_ message: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        var bytes = message
        func position() -> Int { Int(generator.next() % UInt64(max(bytes.count, 1))) }
        switch generator.next() % 8 {
        case 0:  // flip a few bits anywhere
            for _ in 0...(generator.next() % 4) where !bytes.isEmpty { bytes[position()] ^= 1 << (generator.next() % 8) }
        case 1:  // overwrite a header byte with a random or boundary value
            let boundary: [UInt8] = [0, 1, 2, 3, 0x7F, 0x80, 0xFF]
            let offset = Int(generator.next() % UInt64(Envelope.headerByteCount))
            bytes[offset] = generator.next() % 2 == 0 ? UInt8(truncatingIfNeeded: generator.next()) : boundary[Int(generator.next() % 7)]
        case 2:  // truncate
            bytes.removeLast(Int(generator.next() % UInt64(bytes.count + 1)))
        case 3:  // extend with junk
            bytes.append(contentsOf: (0..<(1 + generator.next() % 16)).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        case 4:  // overwrite a run in the payload
            let start = Envelope.headerByteCount + Int(generator.next() % UInt64(max(bytes.count - Envelope.headerByteCount, 1)))
            for index in start..<min(bytes.count, start + 1 + Int(generator.next() % 8)) {
                bytes[index] = UInt8(truncatingIfNeeded: generator.next())
            }
        case 5:  // set a length field to something else
            let field = [76, 80, 84, 20][Int(generator.next() % 4)]
            let value = [0, 1, UInt32.max, UInt32(bytes.count), UInt32(truncatingIfNeeded: generator.next() % 5000)][Int(generator.next() % 5)]
            Fixture.put(value, at: field, in: &bytes)
        case 6:  // insert or delete a byte in the middle
            let at = position()
            if generator.next() % 2 == 0 { bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: at) } else { bytes.remove(at: at) }
        default:  // poison a float-sized slot with NaN/Inf/huge
            let specials: [UInt32] = [0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x7C00_7C00]
            let at = Envelope.headerByteCount + Int(generator.next() % UInt64(max(bytes.count - Envelope.headerByteCount - 4, 1)))
            if at + 4 <= bytes.count { Fixture.put(specials[Int(generator.next() % 5)], at: at, in: &bytes) }
        }
        return bytes
    }
}
