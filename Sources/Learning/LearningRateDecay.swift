import FedCore

/// A federated client's learning rate over the federation's model versions (`--lr-decay N`):
/// `base × N / (N + version)`, the inverse-time decay of stochastic approximation, halved by
/// version N, a third by 2N.
///
/// Why by version: a client trains on whatever version it last received, and the version
/// number is the one clock every client of a federation shares, so clients that never talk
/// to each other still agree on the rate. Why inverse-time and not cosine (`fedq train`'s
/// schedule): a federation has no known last version to decay towards. Why at all: at a
/// constant rate the averaged model keeps the noise of the clients' last steps, and an
/// accuracy near the top (the CNN's 99% on MNIST) is reached only when that noise shrinks.
public struct LearningRateDecay: Sendable, Equatable {
    /// The version by which the rate has halved.
    public let halvingVersion: Int

    /// - Throws: `ModelError.invalidTrainingSetting` unless `halvingVersion` is positive.
    public init(halvingVersion: Int) throws(ModelError) {
        guard halvingVersion > 0 else {
            throw .invalidTrainingSetting("a learning-rate decay halves by a positive version, got \(halvingVersion)")
        }
        self.halvingVersion = halvingVersion
    }

    /// The rate for training on `version`, from `base`.
    public func rate(base: Float, version: ModelVersion) -> Float {
        base * Float(Double(halvingVersion) / (Double(halvingVersion) + Double(version)))
    }
}
