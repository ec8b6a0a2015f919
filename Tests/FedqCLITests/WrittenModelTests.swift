import Foundation
import Learning
import Testing

@testable import CLISupport
@testable import FedqCLI

/// A model the user writes (`--model LAYERS`, `--model-file`) goes through the command line
/// to a trained network, and every command that builds a model reads it the same way.
@Suite struct WrittenModelTests {
    private static let mnist = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/mnist").path

    @Test func trainRunsAWrittenModelAndReportsIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-written-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("train.json").path
        let command = try #require(
            try Fedq.parseAsRoot([
                "train", "--model", "dense:32,relu,dense:10", "--input", "784", "--epochs", "1", "--data", Self.mnist,
                "--json", json,
            ]) as? Train)
        try command.run()
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let expected = try ModelSpec.parse(layers: "dense:32,relu,dense:10", input: .flat(784), classCount: 10)
        #expect(report["model"] as? String == "custom")
        #expect(report["parameters"] as? Int == 784 * 32 + 32 + 32 * 10 + 10)
        #expect(report["spec_hash"] as? String == String(expected.hash, radix: 16))
        #expect((report["test_accuracy"] as? Double ?? 0) > 0.9)
    }

    /// The medical table of issue 19 centrally: a written model over its 30 standardised
    /// features, the classes named in the report.
    @Test func trainLearnsTheWDBCTable() throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-wdbc-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: json) }
        let wdbc = URL(fileURLWithPath: Self.mnist).deletingLastPathComponent().appendingPathComponent("wdbc/wdbc.csv").path
        let command = try #require(
            try Fedq.parseAsRoot([
                "train", "--dataset", wdbc, "--label", "diagnosis", "--model", "dense:64,relu,dense:2", "--epochs", "30",
                "--batch", "16", "--json", json,
            ]) as? Train)
        try command.run()
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect((report["test_accuracy"] as? Double ?? 0) >= 0.95)
        let perClass = try #require(report["per_class"] as? [[String: Any]])
        #expect(perClass.map { $0["name"] as? String } == ["benign", "malignant"])
        #expect(perClass.allSatisfy { ($0["recall"] as? Double ?? 0) >= 0.9 })
        #expect(throws: (any Error).self) { try Fedq.parseAsRoot(["train", "--dataset", wdbc]) }
    }

    @Test func everyCommandBuildsTheSameModelFromAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-model-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"layers": [{"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "relu"}, {"type": "maxpool2"}, {"type": "dense", "units": 10}]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let expected = try ModelSpec.parse(layers: "conv2d:4:3,relu,maxpool2,dense:10", input: .mnist, classCount: 10)
        let train = try #require(try Fedq.parseAsRoot(["train", "--model-file", path]) as? Train)
        #expect(try train.modelOptions.modelSpec() == expected)
        for command in ["simulate", "coordinator", "worker", "eval", "client", "fleet"] {
            // Roles insist on a broker URL; nothing connects while parsing.
            let parsed = try Fedq.parseAsRoot(
                [command, "--model-file", path, "--broker", "amqp://fedq@127.0.0.1:1/%2F"] + (command == "client" ? ["--client-index", "0"] : []))
            let shared: SharedOptions? =
                switch parsed {
                case let c as Simulate: c.shared
                case let c as CoordinatorCommand: c.shared
                case let c as WorkerCommand: c.shared
                case let c as EvalCommand: c.shared
                case let c as ClientCommand: c.shared
                case let c as FleetCommand: c.shared
                default: nil
                }
            #expect(try #require(shared, "\(command)").modelSpec() == expected, "\(command)")
        }
    }
}
