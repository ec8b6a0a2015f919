import ArgumentParser
import Foundation
import Testing
import Wire

@testable import CLISupport
@testable import FedqBench
@testable import FedqCLI

/// `fedq inspect` on message files as a dead-letter dump would hold them.
@Suite struct InspectTests {
    private let update: [Float] = (0..<2_048).map { Float($0 % 17) * 1e-3 - 8e-3 }

    /// An int8 client update written through the Wire API to a fresh file.
    private func writeMessage(corruptingByte corrupted: Int? = nil) throws -> String {
        let header = MessageHeader(
            kind: .clientUpdate, specHash: 0xABCD, modelVersion: 3, clientID: 7, sampleCount: 600, localSteps: 60,
            parameterCount: update.count, codec: try CodecSpec(parsing: "int8"))
        var bytes = try Envelope.encode(update, header: header)
        if let corrupted { bytes[corrupted] ^= 0x40 }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-inspect-\(UUID().uuidString).msg").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func inspect(_ arguments: [String]) throws -> Inspect {
        try #require(try Fedq.parseAsRoot(["inspect"] + arguments) as? Inspect)
    }

    @Test func validMessageSucceeds() throws {
        let path = try writeMessage()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try inspect([path]).run()
        try inspect([path, "--spec-hash", "0xabcd", "--parameters", "\(update.count)"]).run()
    }

    @Test func corruptedPayloadFailsWithChecksumMismatch() throws {
        let path = try writeMessage(corruptingByte: Envelope.headerByteCount + 100)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: WireError.self) { try inspect([path]).run() }
        guard case .checksumMismatch = error else {
            Issue.record("expected a checksum mismatch, got \(error)")
            return
        }
        #expect(Fedq.exitCode(for: error) == .failure)
        #expect(Fedq.message(for: error).contains("checksum mismatch"))
    }

    @Test func wrongModelFailsWithSpecHashMismatch() throws {
        let path = try writeMessage()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: WireError.specHashMismatch(expected: 0x1234, found: 0xABCD)) {
            try inspect([path, "--spec-hash", "1234", "--parameters", "\(update.count)"]).run()
        }
    }

    @Test func truncatedFileFailsNamingTheField() throws {
        let path = try writeMessage()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(40).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: WireError.self) { try inspect([path]).run() }
        guard case .truncated = error else {
            Issue.record("expected a truncated-message error, got \(error)")
            return
        }
        #expect(Fedq.exitCode(for: error) == .failure)
    }
}
