import FedCore
import Learning
import Privacy
import Wire

/// One federated participant: its id, its shard of the training data, its training
/// recipe and its own seeded generator. It takes a global model, trains on its shard,
/// encodes the delta with the codec and hands the update to an `UpdatePublisher`.
///
/// `fedq client` runs one, `fedq fleet` many through a `FleetRunner`, and the simulator
/// the same ones with device times and dropouts around them: there is one copy of what
/// a client does. An actor because a sparsifying codec's error-feedback residual is
/// state carried from one update of this client to the next. Callers never run two
/// trainings of one client at once (the runner's busy set, a round's distinct sample):
/// each would start from the same residual and one of the two would be lost.
public actor Client {
    /// The id in `x-fedq-client-id`: the client's index in the data split, the same
    /// in every process that uses the same split.
    public nonisolated let id: UInt64
    /// Indices of this client's samples in `data`.
    public nonisolated let shard: [Int]
    private let data: Dataset
    private let training: LocalTraining
    /// Seeds each local training (shuffling, stochastic rounding): a client's training
    /// is repeatable for a seed, and two clients of one split differ. Never the update ids.
    private var generator: SeededGenerator
    /// The part of earlier deltas a top-k codec left out, added to the next one (nil
    /// until the first update, and always for codecs that send every value).
    private var feedback: ErrorFeedback?
    /// A table federation's shard scaled with the model's standardisation.
    private var scaled = ScaledRows()
    /// Under local DP, what this client has released (shared with the process's other
    /// clients, and with `--ldp-budget-file`); nil otherwise.
    private let books: LocalPrivacyBooks?

    /// - Parameter seed: the run's seed; the client mixes its id in.
    public init(id: UInt64, data: Dataset, shard: [Int], training: LocalTraining, seed: UInt64, books: LocalPrivacyBooks? = nil) {
        self.id = id
        self.books = books
        self.data = data
        self.shard = shard
        self.training = training
        generator = SeededGenerator(seed: seed ^ (id &+ 1) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Trains on `model` on one of the pool's threads and encodes the update, without
    /// publishing it (a simulated device may still drop out or take longer).
    ///
    /// The update id comes from the system generator, not from the seed: every process of
    /// a split shares the seed, so an id derived from it repeats across clients and runs,
    /// and the coordinator would book two updates as one (issue 20).
    /// - Throws: `LocalTrainingError.privacyBudgetSpent` before training when another release
    ///   would take this client's local ε beyond its target.
    public func train(from model: GlobalModel, on pool: ComputePool<Network>) async throws -> LocalTraining.Outcome {
        if let books, let release, !books.permitsRelease(client: id, release: release) {
            throw LocalTrainingError.privacyBudgetSpent(client: id, epsilon: books.epsilon(client: id))
        }
        let seed = generator.next()
        let previous = feedback ?? (training.codec.topkFraction == nil ? nil : ErrorFeedback(parameterCount: model.parameters.count, storage: training.residual))
        let (data, shard) = rows(for: model)
        let (training, id, updateID) = (self.training, self.id, UpdateID.random())
        let result = await pool.run { (network: inout Network) in
            Result {
                try training.run(
                    on: network, model: model, data: data, indices: shard, clientID: id, updateID: updateID,
                    feedback: previous, seed: seed)
            }
        }
        return try result.get()
    }

    /// Publishes a trained update and keeps its residual for the next one.
    /// - Returns: false when the publisher's bound on updates was reached and nothing was
    ///   sent (the residual is then left as it was: that delta never reached the server).
    /// - Throws: the publish error; after a connection loss the update waits in the
    ///   publisher's outbox, so its residual is kept as well.
    @discardableResult
    public func publish(_ update: LocalTraining.Outcome, via publisher: UpdatePublisher) async throws -> Bool {
        // Booked before it leaves: a release whose publish then fails still counts.
        if let books, let release { try books.recordRelease(client: id, release: release) }
        let sent: Bool
        do {
            sent = try await publisher.publish(update)
        } catch {
            keepFeedback(of: update)
            throw error
        }
        if sent { keepFeedback(of: update) }
        return sent
    }

    /// One turn of a real client: train on `model`, then publish.
    @discardableResult
    public func participate(in model: GlobalModel, pool: ComputePool<Network>, publisher: UpdatePublisher) async throws -> Bool {
        try await publish(try await train(from: model, on: pool), via: publisher)
    }

    /// What one update costs this client under local DP (nil without): per record, it
    /// depends on how many rows it has.
    private var release: LocalDifferentialPrivacy.Release? {
        training.privacy?.release(records: shard.count, batchSize: training.batchSize, epochs: training.epochs)
    }

    /// What a client of a table federation shares about its raw rows before the first
    /// model version: count, sums and sums of squares per feature (`StatisticsAnnouncer`).
    public nonisolated var statistics: FeatureStatistics { FeatureStatistics(of: data, indices: shard) }

    /// The rows to train on for `model`: the shard as it is, or, when the model carries a
    /// table federation's standardisation, the shard scaled with the model's numbers (never
    /// the client's own: every role must scale alike). The `ModelVerifier` of a table
    /// federation has already dropped versions without one.
    private func rows(for model: GlobalModel) -> (Dataset, [Int]) {
        guard let standardization = model.standardization else { return (data, shard) }
        let rows = scaled.rows(for: standardization) { data.subset(shard) }
        return (rows, Array(0..<rows.count))
    }

    private func keepFeedback(of update: LocalTraining.Outcome) {
        if let updated = update.feedback { feedback = updated }
    }
}
