import Foundation
import Learning
import Report
import Roles
import Testing

@testable import CLISupport
@testable import FedqCLI

/// A run keeps the model it trained: `fedq simulate --out DIR` saves its last scored version
/// as `DIR/model.msg` (the model-version message a client receives), and `fedq eval
/// --version-file` scores that file again on the same test rows, without a broker.
@Suite struct SavedModelTests {
    private static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data").path
    private static let wdbc = ["--dataset", data + "/wdbc/wdbc.csv", "--label", "diagnosis"]

    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-saved-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func eval(_ arguments: [String]) throws -> EvalCommand {
        try #require(try Fedq.parseAsRoot(["eval"] + arguments) as? EvalCommand)
    }

    /// Five WDBC hospitals with public bounds, on the embedded broker: the saved file is the
    /// run's final version (its number, its bounds), and scoring it again gives the very
    /// accuracy the run reported.
    @Test func aSimulationSavesItsFinalVersionAndEvalScoresItAgainAlike() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let simulate = try #require(
            try Fedq.parseAsRoot(
                ["simulate"] + Self.wdbc + [
                    "--feature-ranges", Self.data + "/wdbc/wdbc-ranges.csv", "--clients", "5", "--concurrency", "5",
                    "--target-accuracy", "1", "--max-updates", "150", "--seed", "2", "--out", directory,
                ]) as? Simulate)
        try await simulate.run()
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/summary.json"))) as? [String: Any])
        let finalAccuracy = try #require(summary["final_accuracy"] as? Double)
        let versions = try #require(summary["model_versions"] as? Int)
        #expect(versions > 0)

        let path = directory + "/" + RunResult.modelFileName
        let spec = try ModelSpec.resolve("dense:64,relu,dense:2", input: .flat(30), classCount: 2)
        let saved = try PipelineMessage.decodeModel(body: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), spec: spec)
        #expect(saved.version == UInt64(versions))
        #expect(saved.parameters.count == spec.parameterCount)
        // The public bounds travel inside it: radius_mean's [0, 29] is mean 14.5, deviation 14.5.
        #expect(saved.standardization?.means.first == 14.5)
        #expect(saved.standardization?.deviations.first == 14.5)

        // It is the trained model, not the initial one.
        #expect(saved.parameters != Network(spec: spec, seed: 2).parameters)

        let record = try await eval(Self.wdbc + ["--seed", "2", "--version-file", path]).score(path)
        #expect(record.version == saved.version)
        // The same test rows, the same predictions (summary.json's decimal may differ in the last bit).
        #expect(abs(record.accuracy - finalAccuracy) < 1e-9, "\(record.accuracy) against \(finalAccuracy)")
        #expect(record.perClass?.map(\.name) == ["benign", "malignant"])
    }

    /// A file that is not a version of this model is refused in one line naming it, and
    /// `--version-file` needs no broker.
    @Test func aFileThatIsNotAVersionOfThisModelIsRefused() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Valid without --broker or FEDQ_BROKER: nothing connects.
        let text = directory + "/notes.txt"
        try "version 3".write(toFile: text, atomically: true, encoding: .utf8)
        let command = try eval(Self.wdbc + ["--version-file", text])
        await #expect {
            _ = try await command.score(text)
        } throws: { error in
            "\(error)".hasPrefix("\(text) is not a version of this model (--model, --dataset): bad magic")
        }
        // A table model's version scored as MNIST's mlp: another model.
        let spec = try ModelSpec.resolve("dense:64,relu,dense:2", input: .flat(30), classCount: 2)
        var model = GlobalModel(version: 7, parameters: [Float](repeating: 0.01, count: spec.parameterCount), updatesApplied: 0)
        let unscaled = directory + "/unscaled.msg"
        try Data(try PipelineMessage.encodeModel(model, spec: spec).0).write(to: URL(fileURLWithPath: unscaled))
        let mnist = try eval(["--data", Self.data + "/mnist", "--version-file", unscaled])
        await #expect {
            _ = try await mnist.score(unscaled)
        } throws: { error in
            "\(error)".contains("is not a version of this model") && "\(error)".contains("specHash")
        }
        // The table's own model, but without the standardisation every table version carries.
        await #expect {
            _ = try await eval(Self.wdbc + ["--version-file", unscaled]).score(unscaled)
        } throws: { error in
            "\(error)".hasSuffix("a table's versions carry their standardisation, and this one has none")
        }
        model.version = 8
        #expect(try PipelineMessage.decodeModel(body: try PipelineMessage.encodeModel(model, spec: spec).0, spec: spec).version == 8)
    }
}
