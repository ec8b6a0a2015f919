import Foundation
import Learning
import Testing

/// Models a user writes: what a spec string and a model file build, their
/// hashes (the test vectors of docs/models.md), and one error per kind of
/// mistake.
struct ModelSpecParsingTests {
    @Test func specStringInfersEveryShape() throws {
        let spec = try ModelSpec.parse(
            layers: "conv2d:8:3, relu, maxpool2, conv2d:4:5,relu,maxpool2,dense:16,relu,dense:10",
            input: .image(channels: 1, height: 12, width: 8), classCount: 10)
        #expect(spec.name == "custom" && spec.inputSize == 96 && spec.classCount == 10)
        #expect(
            spec.layers == [
                .conv2d(channels: 1, filters: 8, kernel: 3, height: 12, width: 8), .relu, .maxPool2(channels: 8, height: 12, width: 8),
                .conv2d(channels: 8, filters: 4, kernel: 5, height: 6, width: 4), .relu, .maxPool2(channels: 4, height: 6, width: 4),
                .dense(inputs: 24, outputs: 16), .relu, .dense(inputs: 16, outputs: 10),
            ])
    }

    /// The test vector of docs/models.md: a client in another language must
    /// reproduce these hashes from the canonical descriptions alone.
    @Test func specHashTestVectors() throws {
        let tabular = try ModelSpec.parse(layers: "dense:64,relu,dense:2", input: .flat(30), classCount: 2)
        #expect(tabular.canonicalDescription == "custom;in=30;classes=2;dense(30,64);relu;dense(64,2)")
        #expect(tabular.hash == 0x93EB_44D8_1983_026E)
        #expect(tabular.parameterCount == 30 * 64 + 64 + 64 * 2 + 2)
        #expect(ModelSpec.mlp.canonicalDescription == "mlp;in=784;classes=10;dense(784,200);relu;dense(200,200);relu;dense(200,10)")
        #expect(ModelSpec.mlp.hash == 0x65E0_D16F_CD80_0278)
        #expect(ModelSpec.cnn.hash == 0x7841_2E08_A270_74D0)
    }

    @Test func modelFileBuildsTheSameModelAsTheString() throws {
        let directory = Fixtures.temporaryDirectory()
        let path = directory.appendingPathComponent("model.json").path
        let json = """
            {"input": [1, 28, 28], "layers": [
              {"type": "conv2d", "filters": 32, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2"},
              {"type": "conv2d", "filters": 64, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2"},
              {"type": "dense", "units": 512}, {"type": "relu"}, {"type": "dense", "units": 10}]}
            """
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        let fromFile = try ModelSpec.load(file: path, input: nil, classCount: 10)
        let fromString = try ModelSpec.resolve(
            "conv2d:32:5,relu,maxpool2,conv2d:64:5,relu,maxpool2,dense:512,relu,dense:10", input: .mnist, classCount: 10)
        #expect(fromFile == fromString)
        // The McMahan CNN's layers and parameter count, under the name 'custom'.
        #expect(fromFile.layers == ModelSpec.cnn.layers && fromFile.parameterCount == 1_663_370)
        #expect(fromFile.hash != ModelSpec.cnn.hash)
        #expect(try ModelSpec.resolve("cnn", input: .mnist, classCount: 10) == .cnn)
    }

    @Test func aWrittenModelTrains() throws {
        // Two Gaussian blobs in 30 dimensions: a tabular problem.
        var generator = SeededGenerator(seed: 4)
        let labels = (0..<200).map { $0 % 2 }
        let features = labels.flatMap { label in
            (0..<30).map { _ in Float(generator.nextGaussian()) + (label == 1 ? 1 : -1) }
        }
        let data = try Dataset(features: features, labels: labels, featureCount: 30, classCount: 2)
        let spec = try ModelSpec.parse(layers: "dense:64,relu,dense:2", input: .flat(30), classCount: 2)
        let network = Network(spec: spec, seed: 1)
        try network.train(on: data, epochs: 5, batchSize: 10, optimizer: SGD(learningRate: 0.05), generator: &generator)
        #expect(try network.evaluate(on: data).accuracy == 1)
    }

    struct BadSpec: Sendable, CustomTestStringConvertible {
        let text: String
        let input: SampleShape
        let classes: Int
        let expected: ModelSpecError
        init(_ text: String, _ input: SampleShape, _ classes: Int, _ expected: ModelSpecError) {
            (self.text, self.input, self.classes, self.expected) = (text, input, classes, expected)
        }
        var testDescription: String { "'\(text)' over \(input)" }
    }

    static let badSpecs: [BadSpec] = [
        BadSpec("", .flat(30), 2, .empty),
        BadSpec("dense:64,,dense:2", .flat(30), 2, .emptyLayer(position: 2)),
        BadSpec("dense:64,softmax,dense:2", .flat(30), 2, .unknownLayer(position: 2, text: "softmax")),
        BadSpec("resnet", .mnist, 10, .unknownLayer(position: 1, text: "resnet")),
        BadSpec("dense", .flat(30), 2, .missingArgument(position: 1, layer: "dense", expected: "a positive number of units (dense:64)")),
        BadSpec("dense:-3", .flat(30), 2, .badArgument(position: 1, text: "-3", expected: "a positive number of units (dense:64)")),
        BadSpec("conv2d:8:x,dense:10", .mnist, 10, .badArgument(position: 1, text: "x", expected: "a positive odd kernel size (conv2d:32:5)")),
        BadSpec("relu:2,dense:2", .flat(30), 2, .unexpectedArgument(position: 1, text: "relu:2")),
        BadSpec("dense:2:3", .flat(30), 2, .unexpectedArgument(position: 1, text: "dense:2:3")),
        BadSpec("conv2d:8:3,dense:2", .flat(30), 2, .needsImage(position: 1, layer: "conv2d")),
        BadSpec("dense:64,maxpool2,dense:10", .mnist, 10, .needsImage(position: 2, layer: "maxpool2")),
        BadSpec("conv2d:8:3,maxpool2,maxpool2,maxpool2,dense:10", .mnist, 10, .oddPoolSize(position: 4, height: 7, width: 7)),
        BadSpec("conv2d:8:4,dense:10", .mnist, 10, .badKernel(position: 1, kernel: 4, height: 28, width: 28)),
        BadSpec("conv2d:8:9,dense:10", .image(channels: 1, height: 4, width: 6), 10, .badKernel(position: 1, kernel: 9, height: 4, width: 6)),
        BadSpec("dense:64,relu,dense:2", .mnist, 10, .wrongClassCount(values: 2, classes: 10)),
        BadSpec("dense:200000,dense:2", .mnist, 2, .tooLarge(parameters: 784 * 200_000 + 200_000 + 200_000 * 2 + 2, limit: 100_000_000)),
    ]

    @Test(arguments: badSpecs)
    func badSpecIsRefusedWithItsReason(_ bad: BadSpec) {
        #expect(throws: bad.expected) { try ModelSpec.parse(layers: bad.text, input: bad.input, classCount: bad.classes) }
        #expect(!bad.expected.description.contains("\n"))
    }

    @Test func badInputShapesAreRefused() throws {
        for text in ["", "0", "1x28", "1x28x28x1", "-4", "axb", "1x0x3"] {
            #expect(throws: ModelSpecError.badInput(text)) { try SampleShape(parsing: text) }
        }
        #expect(try SampleShape(parsing: "3x32x32") == .image(channels: 3, height: 32, width: 32))
        #expect(try SampleShape(parsing: "30") == .flat(30))
    }

    static let badFiles: [(String, ModelSpecError)] = [
        ("{\"input\": [30], \"layers\": [{\"type\": \"dense\"}]}",
         .missingArgument(position: 1, layer: "dense", expected: "\"units\" (\"units\": 64)")),
        ("{\"input\": [30], \"layers\": [{\"type\": \"relu\", \"units\": 3}, {\"type\": \"dense\", \"units\": 2}]}",
         .unexpectedArgument(position: 1, text: "relu with \"units\"")),
        ("{\"input\": [30], \"layers\": [{\"type\": \"lstm\"}]}", .unknownLayer(position: 1, text: "lstm")),
        ("{\"input\": [30], \"layers\": []}", .empty),
        ("{\"input\": [30, 2], \"layers\": [{\"type\": \"dense\", \"units\": 2}]}", .badInput("30x2")),
    ]

    @Test(arguments: badFiles)
    func badModelFileIsRefusedWithItsReason(json: String, expected: ModelSpecError) throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("model.json").path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: expected) { try ModelSpec.load(file: path, input: nil, classCount: 2) }
    }

    @Test func unreadableOrMalformedModelFilesAreRefused() throws {
        #expect(throws: ModelSpecError.unreadableFile(path: "/nonexistent/model.json")) {
            try ModelSpec.load(file: "/nonexistent/model.json", input: nil, classCount: 2)
        }
        let path = Fixtures.temporaryDirectory().appendingPathComponent("model.json").path
        for (json, reason) in [
            ("{\"layers\": [", "not JSON"), ("{\"input\": [30]}", "missing \"layers\""),
            ("{\"input\": [30], \"layers\": [{\"type\": \"dense\", \"units\": \"64\"}]}", "wrong type at .layers[0].units"),
            ("{\"layers\": [{\"type\": \"dense\", \"units\": 2}]}", "no \"input\""),
        ] {
            try json.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try ModelSpec.load(file: path, input: nil, classCount: 2)
                Issue.record("\(json) was accepted")
            } catch {
                guard case .badFile(let file, let why) = error else { Issue.record("\(error)"); continue }
                #expect(file == path && why.hasPrefix(reason), "\(why)")
            }
        }
    }
}
