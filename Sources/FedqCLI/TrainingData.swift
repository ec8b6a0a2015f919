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

    /// - Parameter standardization: public bounds' scaling (`--feature-ranges`); nil: the
    ///   training rows' statistics.
    static func csv(
        path: String, label: String, testFraction: Double, seed: UInt64, standardization: Standardization? = nil
    ) throws -> TrainingData {
        // The same split and standardisation code the federation runs, with one "client"
        // holding every training row.
        let table = try TableSource(path: path, label: label, testFraction: testFraction).split(seed: seed)
        let prepared = table.standardized(
            with: standardization ?? table.statistics(of: Array(0..<table.train.count)).standardization)
        return TrainingData(
            train: prepared.train, test: prepared.test, shape: .flat(table.train.featureCount),
            classNames: table.classNames)
    }
}
