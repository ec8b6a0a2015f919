import Foundation
import Learning
import Testing

struct DatasetLoadingTests {
    @Test func mnistLoadsWithVerifiedChecksums() throws {
        let (train, test) = try MNIST.load(directory: Fixtures.mnistDirectory)
        #expect(train.count == 60_000)
        #expect(test.count == 10_000)
        #expect(train.featureCount == 784)
        #expect(train.features.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(test.labelCounts() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    }

    /// An MLP on 5,000 real training images, 5 epochs, must exceed 90% on
    /// the 10,000 test images (it reaches 91.9%).
    @Test func mlpLearnsMNISTFromAFewThousandSamples() throws {
        let (train, test) = try MNIST.load(directory: Fixtures.mnistDirectory)
        let network = Network(spec: .mlp, seed: 1)
        var generator = SeededGenerator(seed: 1)
        try network.train(
            on: train, indices: Array(0..<5000), epochs: 5, batchSize: 10, optimizer: SGD(learningRate: 0.02),
            generator: &generator)
        let evaluation = try network.evaluate(on: test)
        #expect(evaluation.accuracy > 0.90)
    }

    @Test func truncatedGzipNamesTheFile() throws {
        let directory = Fixtures.temporaryDirectory()
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.mnistDirectory + "/t10k-labels-idx1-ubyte.gz"))
        let path = directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path
        try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: path))
        let truncated = #expect(throws: DatasetError.self) {
            try MNIST.load(directory: directory.path, images: "t10k-labels-idx1-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz")
        }
        #expect(truncated?.description.contains(path) == true)
    }

    @Test func corruptGzipNamesTheFileAndOffset() throws {
        let directory = Fixtures.temporaryDirectory()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.mnistDirectory + "/t10k-labels-idx1-ubyte.gz")))
        for i in 20..<200 { bytes[i] ^= 0x5A }
        let path = directory.appendingPathComponent("labels.gz").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DatasetError.self) {
            try MNIST.load(directory: directory.path, images: "labels.gz", labels: "labels.gz")
        }
        guard case .corruptGzip(let reported, let reason) = error else {
            Issue.record("expected corruptGzip, got \(String(describing: error))")
            return
        }
        #expect(reported == path)
        #expect(reason.contains("compressed bytes"))
    }

    @Test func truncatedIDXReportsPromisedAndActualBytes() throws {
        let directory = Fixtures.temporaryDirectory()
        // Header: unsigned bytes, rank 3, 10 x 28 x 28, but only 100 data bytes.
        var bytes: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28]
        bytes += Array(repeating: 7, count: 100)
        let path = directory.appendingPathComponent("images.idx").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.truncatedIDX(path: path, expectedBytes: 16 + 7840, actualBytes: 116)) {
            try MNIST.load(directory: directory.path, images: "images.idx", labels: "images.idx")
        }
    }

    @Test func badIDXMagicNamesTheByte() throws {
        let directory = Fixtures.temporaryDirectory()
        let path = directory.appendingPathComponent("floats.idx").path
        try Data([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: DatasetError.self) {
            try MNIST.load(directory: directory.path, images: "floats.idx", labels: "floats.idx")
        }
        #expect(error == .badIDXHeader(path: path, offset: 2, reason: "element type 0xd is not unsigned byte (0x08)"))
    }

    @Test func checksumMismatchIsReported() throws {
        let directory = Fixtures.temporaryDirectory()
        // A well-formed labels file under the canonical name, but not the canonical content.
        let bytes: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]
        try Data(bytes).write(to: directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let error = #expect(throws: DatasetError.self) {
            try MNIST.load(directory: directory.path, images: "t10k-labels-idx1-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz")
        }
        guard case .checksumMismatch(_, let expected, _) = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))")
            return
        }
        #expect(expected == "27ae3e4e09519cfbb04c329615203637")
    }

    @Test func csvLoadsFeaturesAndLabels() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("patients.csv").path
        try "age,pressure,label\n61,1.5,1\n42,-0.25,0\r\n35,2e1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let data = try CSVDataset.load(path: path)
        #expect(data.count == 3)
        #expect(data.featureCount == 2)
        #expect(data.classCount == 3)
        #expect(data.features == [61, 1.5, 42, -0.25, 35, 20])
        #expect(data.labels == [1, 0, 2])
    }

    @Test func csvBadValueNamesFileLineAndColumn() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("bank.csv").path
        try "label,income,debt\n0,100,5\n1,n/a,7\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.csvBadValue(path: path, line: 3, column: 2, text: "n/a")) {
            try CSVDataset.load(path: path, labelColumn: 0)
        }
        #expect(
            DatasetError.csvBadValue(path: path, line: 3, column: 2, text: "n/a").description
                == "\(path):3: column 2: 'n/a' is not a number")
    }

    @Test func csvShortRowNamesTheLine() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("short.csv").path
        try "a,b,label\n1,2,0\n3,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.csvColumnCount(path: path, line: 3, expected: 3, found: 2)) { try CSVDataset.load(path: path) }
    }
}
