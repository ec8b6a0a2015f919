import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
import Privacy
import Wire

/// What one client does with a global model: train on its own samples and
/// encode the resulting delta as an update message.
public struct LocalTraining: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: SGD
    public var codec: CodecSpec
    /// How a top-k client keeps its error-feedback residual between updates (int8: a
    /// quarter of the memory, so 10,000 clients fit in 4 GB; `ErrorFeedback.Storage`).
    public var residual: ErrorFeedback.Storage
    /// The learning rate's decay over the federation's model versions (`--lr-decay`): nil
    /// keeps it constant.
    public var decay: LearningRateDecay?
    /// Local differential privacy (`--ldp-clip`): per update, the delta is clipped and noised
    /// before it is encoded; per record, the client trains with DP-SGD. Either way nothing
    /// after this point sees it unprotected (nil: off).
    public var privacy: LocalDifferentialPrivacy?

    public init(
        epochs: Int, batchSize: Int, optimizer: SGD, codec: CodecSpec, residual: ErrorFeedback.Storage = .int8,
        decay: LearningRateDecay? = nil, privacy: LocalDifferentialPrivacy? = nil
    ) {
        self.privacy = privacy
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.codec = codec
        self.residual = residual
        self.decay = decay
    }

    /// The optimiser a client trains `version` with: `optimizer`, its rate decayed by `decay`.
    public func optimizer(for version: ModelVersion) throws(ModelError) -> SGD {
        guard let decay else { return optimizer }
        return try SGD(
            learningRate: decay.rate(base: optimizer.learningRate, version: version), momentum: optimizer.momentum,
            weightDecay: optimizer.weightDecay)
    }

    /// The update message and what it took.
    public struct Outcome: Sendable {
        public var message: [UInt8]
        public var header: MessageHeader
        public var steps: Int
        /// The client's error-feedback residual after this update (top-k only).
        public var feedback: ErrorFeedback?
        /// What training and encoding took on this machine, not counting the wait for a
        /// compute thread: the simulator stretches it into a slower device's time.
        public var computeTime: Duration
    }

    /// Runs on a compute thread with that thread's `network` workspace.
    /// - Parameters:
    ///   - updateID: the update's identity, chosen by the caller and not drawn from `seed`:
    ///     ids must be unique across processes and runs, while training stays repeatable.
    ///   - feedback: the client's residual from its previous update, for top-k codecs.
    public func run(
        on network: Network, model: GlobalModel, data: Dataset, indices: [Int], clientID: UInt64, updateID: UpdateID,
        feedback: ErrorFeedback?, seed: UInt64
    ) throws -> Outcome {
        let started = ContinuousClock.now
        try network.load(parameters: model.parameters)
        var generator = SeededGenerator(seed: seed)
        let optimizer = try optimizer(for: model.version)
        let summary: TrainingSummary
        if let privacy, privacy.unit == .record {
            summary = try trainPrivately(on: network, data: data, indices: indices, optimizer: optimizer, privacy: privacy)
        } else {
            summary = try network.train(
                on: data, indices: indices, epochs: epochs, batchSize: batchSize, optimizer: optimizer, generator: &generator)
        }
        var delta = try network.update(from: model.parameters).delta
        // A model far from any minimum (a privacy run's noise on a small population, a
        // learning rate too high for it) can train to NaN or overflow. Such a delta is
        // nobody's update: say so, typed, rather than fail in the codec and stop the process.
        guard delta.isAllFinite, summary.meanLoss.isFinite else { throw LocalTrainingError.diverged(version: model.version) }
        var (samples, steps) = (UInt64(summary.samples / epochs), UInt32(summary.steps))
        if let privacy {
            // Before the codec and the error feedback: what they do to a private delta is
            // post-processing. The counts would tell the size of the client's data, which the
            // guarantee covers too, so a private update claims one sample and one step.
            if privacy.unit == .update { privacy.privatize(&delta) }
            (samples, steps) = (1, 1)
        }
        let header = MessageHeader(
            kind: .clientUpdate, specHash: network.spec.hash, modelVersion: model.version,
            updateID: updateID, clientID: clientID, sampleCount: samples,
            localSteps: steps, parameterCount: delta.count, codec: codec)
        if var feedback {
            let message = try feedback.encode(delta, header: header, using: &generator)
            return Outcome(
                message: message, header: header, steps: summary.steps, feedback: feedback,
                computeTime: ContinuousClock.now - started)
        }
        let message = try Envelope.encode(delta, header: header, using: &generator)
        return Outcome(
            message: message, header: header, steps: summary.steps, feedback: nil, computeTime: ContinuousClock.now - started)
    }
}

extension LocalTraining {
    /// Record-level local DP: DP-SGD over the client's rows, its batches drawn and its noise
    /// made from kernel-keyed keystreams (never the seed: a sample or a noise draw someone
    /// could regenerate would void the guarantee), so such a run does not repeat for a seed.
    func trainPrivately(
        on network: Network, data: Dataset, indices: [Int], optimizer: SGD, privacy: LocalDifferentialPrivacy
    ) throws -> TrainingSummary {
        let release = privacy.release(records: indices.count, batchSize: batchSize, epochs: epochs)
        let deviation = privacy.noiseStandardDeviation
        var sampler = BulkSystemRandom()
        var noise = BulkSystemRandom()
        return try network.trainPrivately(
            on: data, indices: indices, steps: release.steps, samplingRate: release.mechanism.samplingRate,
            clipNorm: Float(privacy.clipNorm), optimizer: optimizer, sampler: &sampler,
            stepDivisor: privacy.stepDivisor(records: indices.count, batchSize: batchSize)
        ) { sum in
            GaussianNoise.add(standardDeviation: deviation, to: sum, using: &noise)
        }
    }
}

/// Why local training produced no update.
public enum LocalTrainingError: Error, Equatable, CustomStringConvertible {
    /// Training on this version gave a loss or a delta that is not finite: the client
    /// publishes nothing and waits for a newer version (`FleetRunner`).
    case diverged(version: ModelVersion)
    /// Another update would take the client's local ε beyond `--ldp-target-epsilon`: the
    /// client is done for good (`FleetRunner` retires it), whatever version comes next.
    case privacyBudgetSpent(client: UInt64, epsilon: Double)

    public var description: String {
        switch self {
        case .diverged(let version):
            "local training on version \(version) diverged (a loss or a weight that is NaN or infinite); no update published"
        case .privacyBudgetSpent(let client, let epsilon):
            "client \(client) has spent its local privacy budget (ε = \(String(format: "%.2f", epsilon))): it publishes no more updates"
        }
    }
}
