import Foundation
import Learning
import Testing
import Wire

@testable import CLISupport
@testable import FedqBench
@testable import FedqCLI

/// The benchmark commands run end to end on small inputs; their outputs are checked, never their timings.
@Suite struct BenchCommandTests {
    /// The repository's MNIST copy, wherever `swift test` runs from.
    private static let mnist = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/mnist").path

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func codecSamplesAreOneDecodableMessagePerCodec() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let command = try #require(
            try Fedq.parseAsRoot([
                "bench", "codecs", "--samples", directory.path, "--model", "mlp", "--data", Self.mnist, "--batches", "1",
            ]) as? BenchCodecs)
        try command.run()

        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files == BenchCodecs.defaultCodecs.map { "\($0).msg" }.sorted())
        // The default list comes from the codec registry.
        #expect(BenchCodecs.defaultCodecs.contains("int4") && BenchCodecs.defaultCodecs.contains("topk:0.01+int4"))
        let expectation = ModelExpectation(specHash: ModelSpec.mlp.hash, parameterCount: ModelSpec.mlp.parameterCount)
        var norms: [String: Double] = [:]
        for codec in BenchCodecs.defaultCodecs {
            let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent("\(codec).msg")))
            let envelope = try Envelope(bytes: bytes, expecting: expectation)
            #expect(envelope.header.codec == (try CodecSpec(parsing: codec)))
            norms[codec] = envelope.decode().reduce(0) { $0 + Double($1 * $1) }.squareRoot()
            let inspect = try #require(try Fedq.parseAsRoot(["inspect", directory.appendingPathComponent("\(codec).msg").path]) as? Inspect)
            try inspect.run()
        }
        // A real update: not zero, and the dense lossy codecs keep its norm within 1%.
        let fp32 = try #require(norms["fp32"])
        #expect(fp32 > 0)
        for codec in ["fp16", "int8", "int8+deflate"] {
            #expect(abs(try #require(norms[codec]) - fp32) < 0.01 * fp32, "\(codec)")
        }
    }

    @Test func codecFiguresAreWrittenAsJSON() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("codecs.json").path
        let command = try #require(
            try Fedq.parseAsRoot([
                "bench", "codecs", "--json", path, "--data", Self.mnist, "--batches", "1", "--codecs", "fp32", "int8",
                "topk:0.01+int8",
            ]) as? BenchCodecs)
        try command.run()

        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect((object["axpy_mb_s"] as? Double ?? 0) > 0)
        let rows = try #require(object["codecs"] as? [[String: Any]])
        #expect(rows.compactMap { $0["codec"] as? String } == ["fp32", "int8", "topk:0.01+int8"])
        let ratios = rows.compactMap { $0["ratio"] as? Double }
        // The compression targets on a real mlp update.
        #expect(ratios.count == 3 && ratios[0] == 1 && ratios[1] >= 3.9 && ratios[2] >= 32)
    }

    @Test func transportMovesEveryMessage() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("transport.json").path
        let command = try #require(
            try Fedq.parseAsRoot(["bench", "transport", "--sizes", "0,4096", "--messages", "301", "--json", path])
                as? BenchTransport)
        try await command.run()

        let results = try JSONDecoder.snakeCase.decode([BenchTransportResult].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(results.map(\.bodyBytes) == [0, 4096])
        #expect(results.map(\.messages) == [301, 301])
    }
}

extension JSONDecoder {
    fileprivate static var snakeCase: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
