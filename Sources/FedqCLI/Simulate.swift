import Aggregation
import ArgumentParser
import CLISupport
import Foundation
import Learning
import Messaging
import Report
import Simulation
import Synchronization
import Wire

/// `fedq simulate`: the whole asynchronous pipeline in one process, with a simulated
/// fleet of clients on real MNIST, on the embedded broker or on RabbitMQ.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run clients, aggregator workers, coordinator and evaluator in one process until a target accuracy.",
        discussion: """
            The defaults reach 97% MNIST test accuracy: 100 IID clients, 10 training at once, \
            FedBuff with K=7, polynomial staleness weights and a server rate of 1, int8 updates.

            Exit status: 0 when the run completed, whether or not it reached the target \
            (the last lines and summary.json's reached_target say which); 1 when it could \
            not run or its books did not balance. Ctrl-C stops it early and still writes \
            the outputs, marked "interrupted": true.
            """
    )

    @OptionGroup(title: "Clients")
    var fleet: FleetOptions
    @Option(help: "Aggregator workers (competing consumers).")
    var workers = 2
    @Option(help: "Stop once the test accuracy reaches this.")
    var targetAccuracy = 0.97
    @Option(help: "Stop after this many seconds whatever the accuracy.")
    var maxSeconds = 120.0
    @OptionGroup(title: "Evaluation")
    var evaluation: EvaluationOptions
    @OptionGroup(title: "Shared with the role commands")
    var shared: SharedOptions
    @Option(help: "Write summary.json, history.csv and report.html here.")
    var out = "runs/simulate"
    @Option(help: ArgumentHelp(
        "Add one malicious client sending KIND[@PER_SECOND]: explode, overflow, replace, samples-max, samples, future, replay, sybil or garbage (docs/robustness.md).",
        valueName: "attack"))
    var attack: String?

    func validate() throws {
        _ = try makeConfig()
    }

    /// Parses every option into typed settings; a bad value is a `ValidationError` naming its flag.
    func makeConfig() throws -> SimulationConfig {
        var config = SimulationConfig()
        guard workers > 0 else { throw ValidationError("--workers must be positive") }
        guard (0...1).contains(targetAccuracy) else { throw ValidationError("--target-accuracy must be in [0, 1]") }
        guard maxSeconds > 0 else { throw ValidationError("--max-seconds must be positive") }
        let shards = try shared.shards()
        if shards.queueType == .stream, shards.count < workers {
            throw ValidationError("--updates-queue stream reads each shard with one worker: --update-shards (\(shards.count)) must be >= --workers (\(workers))")
        }
        _ = try connector()
        try fleet.apply(to: &config)
        try shared.apply(to: &config)
        config.workers = workers
        config.targetAccuracy = targetAccuracy
        config.maxSeconds = maxSeconds
        try evaluation.validate()
        config.evaluationPacing = evaluation.pacing
        if let attack {
            do { config.attack = try AttackSpec(parsing: attack) } catch { throw ValidationError("--attack: \(error)") }
        }
        return config
    }

    /// The embedded broker unless `--broker` names RabbitMQ.
    func connector() throws -> TransportConnector {
        try shared.connector(name: "fedq simulate", default: "embedded")
    }

    func run() async throws {
        let logger = shared.logger(role: "simulate")
        // Outputs are checked before the run, not found unwritable after it.
        try OutputDirectory.prepare(out, flag: "out")
        let metrics = try await shared.startMetrics(role: "simulate")
        defer { metrics?.close() }
        let config = try makeConfig()
        let line = ProgressBox(target: config.targetAccuracy)
        let simulation = Simulation(config: config)
        let roles = "\(config.clients) clients, \(config.strategy), codec \(config.codec), \(config.workers) workers"
        let connector = try connector()
        print("simulating \(roles) on \(connector.isEmbedded ? "" : "RabbitMQ at ")\(connector)")
        if let line = try config.localPrivacySummaryLine() { print(line) }
        // On RabbitMQ every role reconnects as the role commands do (several comma-separated
        // node URLs fail over), the coordinator checkpointing under --out.
        let recovery = connector.isEmbedded
            ? nil : SimulationRecovery(checkpoint: out + "/coordinator", patience: .seconds(shared.reconnectFor), logger: logger)
        // Ctrl-C or SIGTERM stops the run early; it still settles, evaluates and writes its outputs.
        let stop = StopRequest()
        let outcome = Shared<RunResult?>(nil)
        try await RoleRuntime.runUntilSignalled(logger: logger, onGracefulShutdown: {
            logger.notice("stopping: settling what was published, then writing the outputs")
            stop.request()
        }) {
            outcome.current = try await simulation.run(connect: connector.connect, recovery: recovery, stop: stop) { line.show($0) }
        }
        await connector.close()
        line.finish()
        guard let result = outcome.current else { throw CleanExit.message("the simulation stopped before it started") }
        let report = try result.write(to: out)
        let summary = result.summary
        print(String(
            format: "%@ %.2f%% in %.2f s: %d versions, %d updates applied of %d published (%d stale, %d rejected), mean staleness %.2f",
            summary.reachedTarget ? "reached" : "did not reach", summary.targetAccuracy * 100,
            summary.secondsToTarget ?? summary.seconds, Int(summary.modelVersions), summary.updatesApplied,
            summary.updatesPublished, summary.updatesDroppedStale, summary.updatesRejected, summary.meanStaleness))
        print(String(format: "final accuracy %.2f%%, best %.2f%%", summary.finalAccuracy * 100, summary.bestAccuracy * 100))
        if summary.updatesRejected > 0 || summary.updatesClipped > 0 {
            print("defences: \(summary.updatesClipped) updates clipped; rejected: \(RejectionCounts.text(summary.rejectedByReason))")
        }
        if let privacy = summary.privacy {
            print(String(
                format: "differential privacy: ε %.3f at δ %g over %d aggregates (clip %g, noise multiplier %g, mean sampling rate %.4f)%@",
                privacy.epsilon, privacy.delta, privacy.steps, privacy.clip, privacy.noiseMultiplier, privacy.samplingRate,
                summary.rejectedByReason["privacy-budget"].map { "; stopped at the target ε: \($0) updates refused" } ?? ""))
            if let version = privacy.finalAverageVersion {
                print("  the final model, version \(version), is the moving average of the versions (--dp-final-average; no ε spent)")
            }
            if privacy.postponedPartials > 0 {
                print("  \(privacy.postponedPartials) partials waited for a later aggregate so that none held a client twice")
            }
            if privacy.repeatedClientAggregates > 0 {
                print(
                    "  \(privacy.repeatedClientAggregates) of \(privacy.steps) aggregates held more than one update of a client (up to \(privacy.largestClientShare)), charged to ε at σ/m (docs/privacy.md)"
                )
            }
        }
        if let local = summary.localPrivacy { print("local differential privacy: \(local.description)") }
        if summary.interrupted { print("interrupted after \(String(format: "%.1f", summary.seconds)) s") }
        print("report: \(report)")
    }
}

/// The live progress line, shared by the callbacks of the roles.
final class ProgressBox: Sendable {
    private let line = Mutex(ProgressLine())
    /// The bar fills as the accuracy approaches it.
    private let target: Double

    init(target: Double) { self.target = target }

    func show(_ progress: Simulation.Progress) {
        let accuracy = progress.accuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "–"
        // A private run shows what it has spent beside what it has learnt.
        let epsilon = progress.privacyEpsilon.map { String(format: "  ε %.2f", $0) } ?? ""
        let text = ProgressLine.bar((progress.accuracy ?? 0) / max(target, 1e-9)) + String(
            format: "  v%llu  acc %@  %.0f upd/s  staleness %.2f  %d applied  %.1fs",
            progress.version, accuracy, progress.updatesPerSecond, progress.meanStaleness, progress.applied, progress.elapsed)
            + epsilon
        line.withLock {
            if progress.evaluated {
                $0.milestone(String(format: "v%llu  acc %@  %d applied  %.1fs", progress.version, accuracy, progress.applied, progress.elapsed) + epsilon)
            } else {
                $0.update(text)
            }
        }
    }

    func finish() {
        line.withLock { $0.finish() }
    }
}
