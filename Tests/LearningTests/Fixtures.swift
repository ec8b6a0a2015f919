import Foundation
import Learning

/// Shared test data: seeded random datasets and the repository's MNIST.
enum Fixtures {
    static let mnistDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data/mnist").path

    /// Gaussian features, a `zeroFraction` of them set to 0 (like image
    /// background, which sends a first dense layer down its sparse path).
    static func randomDataset(count: Int, features: Int, classes: Int, seed: UInt64, zeroFraction: Double = 0) -> Dataset {
        var generator = SeededGenerator(seed: seed)
        let values = (0..<(count * features)).map { _ in
            generator.nextUnit() < zeroFraction ? 0 : Float(generator.nextGaussian())
        }
        let labels = (0..<count).map { _ in Int(generator.next() % UInt64(classes)) }
        return try! Dataset(features: values, labels: labels, featureCount: features, classCount: classes)
    }

    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-learning-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
