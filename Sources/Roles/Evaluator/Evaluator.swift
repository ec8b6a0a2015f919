import Aggregation
import FedCore
import Foundation
import Learning
import Messaging

/// Evaluates published model versions on a held-out test set.
///
/// It reads from a one-slot queue on the model fanout, so when evaluating
/// takes longer than versions take to appear it simply evaluates the newest
/// one next; `pacing` bounds how much CPU it takes from training.
public actor Evaluator {
    private let spec: ModelSpec
    private let test: Dataset
    private let pool: ComputePool<Network>
    private let pacing: EvaluationPacing
    private let started: ContinuousClock.Instant
    private let onRecord: @Sendable (EvaluationRecord, GlobalModel) -> Void
    /// Drops (and counts) what does not decode or is not the coordinator's.
    private let verifier: ModelVerifier
    /// The test set's class names (a table's label values), for the per-class figures of
    /// each record; nil on MNIST.
    private let classNames: [String]?
    public private(set) var history: [EvaluationRecord] = []
    /// The version of `history`'s last record, kept so a run can save the model it scored
    /// last (`model.msg`).
    public private(set) var latestModel: GlobalModel?
    /// A table federation's test rows scaled with the model's standardisation.
    private var scaledTest = ScaledRows()
    /// The CPU time of the last evaluation pass (for `pacing`).
    private var lastPassCPU = Duration.zero

    public init(
        spec: ModelSpec, test: Dataset, pool: ComputePool<Network>,
        pacing: EvaluationPacing, started: ContinuousClock.Instant, verifier: ModelVerifier = ModelVerifier(coordinatorKey: nil),
        classNames: [String]? = nil, onRecord: @escaping @Sendable (EvaluationRecord, GlobalModel) -> Void
    ) {
        self.verifier = verifier
        self.classNames = classNames
        self.spec = spec
        self.test = test
        self.pool = pool
        self.pacing = pacing
        self.started = started
        self.onRecord = onRecord
    }

    /// Evaluates versions from `models` (a `PipelineTopology.subscribeToModels` queue) until
    /// cancelled. A message the verifier drops is acknowledged and skipped.
    public func run(_ models: Consumer) async throws {
        var chunks = ModelChunks(spec: spec)
        for try await delivery in models {
            guard let delivery = try await chunks.take(delivery) else { continue }
            let begin = ContinuousClock.now
            guard let model = verifier.model(delivery, spec: spec) else {
                try await delivery.ack()
                continue
            }
            // What the evaluation pass took in wall time beyond its CPU time is waiting for a
            // core, which costs training nothing: the pacing counts its CPU time.
            var waited = Duration.zero
            if history.last.map({ $0.version < model.version }) ?? true {
                let passBegan = ContinuousClock.now
                try await evaluate(model)
                waited = max(.zero, (ContinuousClock.now - passBegan) - lastPassCPU)
            }
            // Ack after the pause: the slot then holds the newest version, not one from before it.
            let took = ContinuousClock.now - begin
            let rest = pacing.rest(afterEvaluationOf: took, cpu: took - waited)
            if rest > .zero { try await Task.sleep(for: rest) }
            try await delivery.ack()
        }
    }

    /// Evaluates `model` now and records it (also used for the final model of a run).
    ///
    /// `history` stays in version order, newest last (a run's final accuracy is its last
    /// record): the actor is free while the pool evaluates, so a pass over an older version
    /// may end after a newer one was recorded; that record is returned, not kept.
    @discardableResult
    public func evaluate(_ model: GlobalModel) async throws -> EvaluationRecord {
        let test = testRows(for: model)
        let parameters = model.parameters
        let (evaluation, cpu) = try await pool.run { (network: inout Network) -> Result<(Evaluation, Duration), ModelError> in
            Result { () throws(ModelError) in
                let began = ThreadCPUTime.now()
                try network.load(parameters: parameters)
                let evaluation = try network.evaluate(on: test)
                return (evaluation, ThreadCPUTime.now() - began)
            }
        }.get()
        lastPassCPU = cpu
        let record = EvaluationRecord(
            version: model.version, seconds: (ContinuousClock.now - started).seconds,
            accuracy: evaluation.accuracy, loss: evaluation.loss, macroF1: evaluation.macroF1, dpEpsilon: model.privacyEpsilon,
            perClass: classNames.flatMap { ClassMetrics.of(evaluation, names: $0) })
        if let last = history.last, last.version >= record.version { return last.version == record.version ? last : record }
        history.append(record)
        latestModel = model
        PipelineMetrics.evaluatedAccuracy.record(record.accuracy)
        onRecord(record, model)
        return record
    }

    /// The held-out rows as `model` sees them: scaled with the standardisation it carries (a
    /// table federation's, merged from the clients' statistics), never with numbers fitted
    /// here; as they are when it carries none.
    private func testRows(for model: GlobalModel) -> Dataset {
        guard let standardization = model.standardization else { return test }
        return scaledTest.rows(for: standardization) { test }
    }
}
