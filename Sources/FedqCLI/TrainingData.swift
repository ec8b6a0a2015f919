import Foundation
import Learning

/// What `fedq train` learns from: MNIST (the default), or a CSV table split into training
/// and held-out rows by seed and standardised with the training rows' statistics alone.
struct TrainingData {
    let train: Dataset
    let test: Dataset
    let shape: SampleShape
    let classNames: [String]

    static func mnist(directory: String) throws -> TrainingData {
        let (train, test) = try MNIST.load(directory: directory)
        return TrainingData(train: train, test: test, shape: .mnist, classNames: (0...9).map(String.init))
    }

    static func csv(path: String, label: String, testFraction: Double, seed: UInt64) throws -> TrainingData {
        let table = try CSVTable.load(path: path, label: label)
        let (train, test) = table.dataset.split(testFraction: testFraction, seed: seed)
        let standardization = FeatureStatistics(of: train).standardization
        return TrainingData(
            train: standardization.apply(to: train), test: standardization.apply(to: test), shape: .flat(train.featureCount),
            classNames: table.classNames)
    }
}
