import Testing

@testable import FedCore

/// The one hex codec: lowercase out, either case in, nothing but whole pairs of digits.
struct HexTests {
    @Test func bytesRoundTripAsLowercasePairs() {
        let bytes: [UInt8] = [0x00, 0x0f, 0xa0, 0xff, 0x3b]
        #expect(Hex.encode(bytes) == "000fa0ff3b")
        #expect(Hex.decode("000fa0ff3b") == bytes)
        #expect(Hex.decode("000FA0FF3B") == bytes)
        #expect(Hex.encode([]) == "" && Hex.decode("") == [])
    }

    @Test(arguments: ["0", "abc", "0g", "zz", " 0", "0x00"])
    func anythingButPairsOfDigitsIsRefused(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
