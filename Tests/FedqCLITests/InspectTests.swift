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

    /// A table federation client's statistics message, as `fedq.q.statistics` holds it: its
    /// client, row count and the means and deviations its sums imply; a damaged one fails
    /// with the coordinator's reason.
    @Test func aStatisticsMessageShowsItsClientRowsAndMeans() throws {
        // Rows (1, 4) and (3, 10): means 2 and 7, deviations 1 and 3.
        var bytes = try StatisticsMessage(specHash: 0xABCD, clientID: 4, count: 2, sums: [4, 14], sumsOfSquares: [10, 116]).encoded()
        let report = try StatisticsReport(bytes, specHash: nil).text
        for line in ["client id:       4", "rows:            2", "features:        2", "feature 0: mean 2, deviation 1", "feature 1: mean 7, deviation 3"] {
            #expect(report.contains(line), "\(line) not in\n\(report)")
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-inspect-\(UUID().uuidString).msg").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try inspect([path]).run()
        #expect(throws: WireError.specHashMismatch(expected: 0x1234, found: 0xABCD)) {
            try inspect([path, "--spec-hash", "1234", "--parameters", "10"]).run()
        }
        bytes[45] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: WireError.self) { try inspect([path]).run() }
        #expect(error.reasonCode == "checksum-mismatch")
    }

    /// A table federation's model version shows the standardisation it carries.
    @Test func aModelVersionShowsItsStandardisation() throws {
        let header = MessageHeader(kind: .modelVersion, specHash: 0xABCD, modelVersion: 5, parameterCount: 8, codec: .fp32)
        let scaling = Standardization(means: [0.5, -3, 120], deviations: [1, 0.25, 40])
        let envelope = try Envelope(bytes: try Envelope.encode([Float](repeating: 1, count: 8), header: header, standardization: scaling))
        let report = MessageReport(envelope).text
        #expect(report.contains("standardisation: 3 features") && report.contains("feature 2: mean 120.0, deviation 40.0"), "\(report)")
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
