import ArgumentParser
import CLISupport
import Foundation
import Learning
import Logging
import Report
import Roles
import Simulation

/// `fedq eval`: evaluates each model version it sees on the test set (MNIST's, or the
/// `--dataset` table's held-out rows, with per-class figures).
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate published model versions on the test set; keep DIR/history.csv.",
        discussion: """
            history.csv has simulate's header (version,seconds,accuracy,loss,macro_f1; on a \
            --dataset table then precision_C,recall_C,f1_C for each class C), one row per \
            evaluated version; seconds count from this process's start. With \
            --stop-at-target the evaluator exits 0 once --target-accuracy is reached (scripts \
            wait on it to end a run), or once it has evaluated the run's final version (a \
            private run's budget is spent: no version follows, so the target can no longer be \
            reached; the log says so). On stopping it saves the version it evaluated last as \
            DIR/model.msg (the model-version message, docs/wire-format.md). \
            --version-file FILE scores such a saved version instead (a simulate run's \
            model.msg too), without a broker, and prints its line.
            """
    )

    @OptionGroup var shared: SharedOptions
    @Option(help: "Write history.csv here.")
    var out = "runs/eval"
    @Option(help: "Report (and with --stop-at-target, stop at) this test accuracy.")
    var targetAccuracy = 0.97
    @Flag(help: "Exit once the target accuracy is reached, or the run's final version is evaluated.")
    var stopAtTarget = false
    @OptionGroup(title: "Evaluation")
    var evaluation: EvaluationOptions
    @Option(help: "Evaluate on the first N test images only (default: all 10,000).")
    var testSamples: Int?
    @Option(help: "Score this saved model version (a run's model.msg) and exit; no broker.")
    var versionFile: String?

    func validate() throws {
        guard (0...1).contains(targetAccuracy) else { throw ValidationError("--target-accuracy must be in [0, 1]") }
        guard testSamples.map({ $0 > 0 }) ?? true else { throw ValidationError("--test-samples must be positive") }
        if versionFile == nil { _ = try shared.roleConnector(name: "fedq eval") }
    }

    func run() async throws {
        if let versionFile { return print(Self.line(try await score(versionFile))) }
        let logger = shared.logger(role: "eval")
        try OutputDirectory.prepare(out, flag: "out")
        let metrics = try await shared.startMetrics(role: "eval")
        defer { metrics?.close() }
        let config = try configuration()
        let (_, test) = try config.loadData()
        let spec = config.model
        let pool = Self.evaluationPool(config)
        defer { pool.shutdown() }
        let historyPath = out + "/history.csv"
        let (target, stopAtTarget) = (targetAccuracy, self.stopAtTarget)
        let reached = Shared(false)
        let ended = Shared(false)
        let coordinatorKey = try shared.trust.loadCoordinatorKey()
        shared.trust.warnIfUnauthenticated(role: "eval", logger: logger)
        let supervisor = try shared.supervisor(role: "eval", logger: logger)
        let perVersion = ModelChunks.messagesPerVersion(spec, chunkSize: config.chunkSize)
        let evaluator = Evaluator(
            spec: spec, test: test, pool: pool, pacing: evaluation.pacing, started: .now,
            verifier: ModelVerifier(coordinatorKey: coordinatorKey, requiresStandardization: config.table != nil, logger: logger),
            classNames: config.classNames
        ) { record, model in
            let line = Self.line(record, updatesApplied: model.updatesApplied)
            logger.info("\(line)", metadata: ["version": "\(record.version)"])
            if record.accuracy >= target && !reached.current {
                reached.current = true
                logger.notice("\(String(format: "reached %.2f%% at version %llu", target * 100, record.version))")
            }
            if model.isFinal && !ended.current {
                ended.current = true
                let missed = reached.current ? "" : String(format: "; %.2f%% was not reached", target * 100)
                logger.notice("version \(record.version) is the run's last (the privacy budget is spent)\(missed)")
            }
        }
        try await RoleRuntime.runUntilSignalled(logger: logger) {
            try await supervisor.run { transport, _ in
                let models = try await PipelineTopology.subscribeToModels(
                    on: transport, requestCurrent: true, messagesPerVersion: perVersion)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await evaluator.run(models) }
                    group.addTask {
                        // Rewrites history.csv as versions are evaluated; ends the run at the target if asked.
                        var written = 0
                        while true {
                            try await Task.sleep(for: .milliseconds(250))
                            let history = await evaluator.history
                            if history.count != written {
                                try HistoryCSV.render(history).write(toFile: historyPath, atomically: true, encoding: .utf8)
                                written = history.count
                            }
                            if stopAtTarget && (reached.current || ended.current) { return }
                        }
                    }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
        }
        let history = await evaluator.history
        try HistoryCSV.render(history).write(toFile: historyPath, atomically: true, encoding: .utf8)
        logger.info("stopped after \(history.count) evaluations; \(historyPath)")
        if let latest = await evaluator.latestModel {
            let modelPath = out + "/" + RunResult.modelFileName
            try Data(try PipelineMessage.encodeModel(latest, spec: spec).0).write(to: URL(fileURLWithPath: modelPath), options: .atomic)
            logger.info("version \(latest.version) saved as \(modelPath)")
        }
        if let last = history.last, let perClass = last.perClass {
            logger.info("version \(last.version): \(perClass.map(\.text).joined(separator: "; "))")
        }
    }

    /// `--version-file`: one saved version, scored on the same test rows a run's evaluator
    /// uses (the same `--seed`, `--dataset` and `--test-samples`); `run` prints it as the
    /// evaluator logs it. A file that is not a model version of this model is refused in one line
    /// naming it and its `WireError` (exit 1), as a message from the network would be.
    func score(_ path: String) async throws -> EvaluationRecord {
        let config = try configuration()
        let spec = config.model
        let body = [UInt8](try CommandError.read(path))
        let model: GlobalModel
        do { model = try PipelineMessage.decodeModel(body: body, spec: spec) } catch {
            throw CommandError("\(path) is not a version of this model (--model, --dataset): \(error)")
        }
        if config.table != nil && model.standardization == nil {
            throw CommandError("\(path) is not a version of this model: a table's versions carry their standardisation, and this one has none")
        }
        let (_, test) = try config.loadData()
        let pool = Self.evaluationPool(config)
        defer { pool.shutdown() }
        let evaluator = Evaluator(
            spec: spec, test: test, pool: pool, pacing: evaluation.pacing, started: .now, classNames: config.classNames
        ) { _, _ in }
        return try await evaluator.evaluate(model)
    }

    /// The model, data and seed the options give, with `--test-samples`.
    private func configuration() throws -> SimulationConfig {
        var config = SimulationConfig()
        try shared.apply(to: &config)
        config.testSubset = testSamples
        return config
    }

    /// One thread evaluating the model (and OpenBLAS at one thread): evaluation must not take
    /// the cores from the clients training beside it.
    private static func evaluationPool(_ config: SimulationConfig) -> ComputePool<Network> {
        BLASThreads.set(1)
        let (spec, seed) = (config.model, config.seed)
        return ComputePool<Network>(threads: 1, name: "fedq-eval") { _ in Network(spec: spec, seed: seed) }
    }

    /// One evaluated version as the evaluator reports it (a saved version does not know how
    /// many updates it holds: that rides in the broker properties).
    static func line(_ record: EvaluationRecord, updatesApplied: Int? = nil) -> String {
        String(format: "version %llu  accuracy %.2f%%  loss %.4f  macro-F1 %.4f", record.version, record.accuracy * 100, record.loss, record.macroF1)
            + (updatesApplied.map { "  (\($0) updates applied)" } ?? "")
            + (record.perClass.map { "  " + $0.map(\.text).joined(separator: "; ") } ?? "")
    }
}
