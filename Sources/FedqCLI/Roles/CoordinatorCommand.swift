import Aggregation
import ArgumentParser
import CLISupport
import Foundation
import Learning
import Logging
import Report
import Roles

/// `fedq coordinator`: the one owner of the global model, as a service.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Merge the workers' partials into the global model and publish its versions.",
        discussion: """
            Each version is checkpointed to --checkpoint before it is published; a restarted \
            coordinator resumes from there, and no update is counted twice. DIR/updates.csv \
            logs what became of every update. A second coordinator on the same --checkpoint \
            directory (a shared volume) is a standby: it waits until the first one is gone, \
            then resumes from its last checkpoint (give each its own --out). The partials \
            queue has a single active consumer, so two coordinators never both apply. \
            With --revoked and --signing-key, every version notice carries the revocation \
            list, signed, and workers holding --coordinator-key refuse updates under it \
            (docs/signing.md); the file is read again whenever it changes.
            """
    )

    @OptionGroup var shared: SharedOptions
    @Option(help: "Directory for the checkpoint and the update log (updates.csv).")
    var checkpoint = "runs/coordinator"
    @Option(help: "Keep summary.json here (default: the checkpoint directory).")
    var out: String?
    @Option(help: "How many refused messages' digests are remembered to recognise redelivered partials (applied update ids are kept for the staleness horizon, however many).")
    var settledWindow = 1 << 16
    @Option(help: "Apply a FedBuff/FedAvg buffer that has not filled within this many milliseconds (0: wait for it to fill).")
    var maxBufferWaitMs = 5000
    @Option(
        help: """
            With --dataset: publish the first version once this many clients have sent their rows' \
            statistics, merged into the standardisation every version carries (docs/models.md). A table \
            needs this or --feature-ranges; with --issuer-key only signed statistics count.
            """)
    var statisticsQuorum: Int?

    func validate() throws {
        guard settledWindow > 0 else { throw ValidationError("--settled-window must be positive") }
        guard maxBufferWaitMs >= 0 else { throw ValidationError("--max-buffer-wait-ms must be >= 0") }
        let ranges = shared.datasetOptions.featureRanges
        switch (shared.datasetOptions.table, statisticsQuorum) {
        case (nil, .some): throw ValidationError("--statistics-quorum needs --dataset (MNIST needs no standardisation)")
        case (.some, nil) where ranges == nil:
            throw ValidationError(
                "--dataset needs --statistics-quorum N (the number of clients whose statistics make the standardisation) or --feature-ranges FILE")
        case (.some, .some) where ranges != nil:
            throw ValidationError("--statistics-quorum and --feature-ranges are two ways to scale the table: give one")
        case (_, .some(let quorum)) where quorum < 1: throw ValidationError("--statistics-quorum must be at least 1, got \(quorum)")
        default: break
        }
        try shared.datasetOptions.checkPrivacy(enabled: try shared.privacy.settings(population: nil) != nil)
        _ = try shared.datasetOptions.publicStandardization()
        if shared.trust.revoked != nil && shared.trust.signingKey == nil && (statisticsQuorum == nil || shared.trust.issuerKey == nil) {
            throw ValidationError(
                "--revoked on the coordinator needs --signing-key: the list goes to the workers signed (or, with --statistics-quorum, --issuer-key to check statistics against it)")
        }
        _ = try shared.roleConnector(name: "fedq coordinator")
    }

    func run() async throws {
        let logger = shared.logger(role: "coordinator")
        try OutputDirectory.prepare(checkpoint, flag: "checkpoint")
        if let out { try OutputDirectory.prepare(out, flag: "out") }
        let metrics = try await shared.startMetrics(role: "coordinator")
        defer { metrics?.close() }
        let spec = try shared.modelSpec()
        let kind = try shared.strategyKind()
        let optimizerRule = try shared.serverOptimizer()
        let rule = try shared.aggregateRule()
        let store = try CoordinatorStore(directory: checkpoint)
        let lock = try CoordinatorLock(directory: checkpoint)
        let directory = checkpoint
        let initial = Network(spec: spec, seed: shared.seed).parameters
        let supervisor = try shared.supervisor(role: "coordinator", logger: logger)
        let shards = try shared.shards()
        let chunkSize = shared.chunks.chunkSize
        let summaryPath = (out ?? checkpoint) + "/summary.json"
        let current = Shared<Coordinator?>(nil)
        let started = ContinuousClock.now
        let reconnects = Shared(0)
        let settledWindow = self.settledWindow
        let horizon = try shared.stalenessPolicy().horizon
        let maxBufferWait: Duration? = maxBufferWaitMs > 0 ? .milliseconds(maxBufferWaitMs) : nil
        // The coordinator cannot count the fleet: with --dp-clip it needs --dp-population.
        let privacy = try shared.privacy.settings(population: nil)
        let signingKey = try shared.trust.loadSigningKey()
        // A table federation's statistics are signed like updates: the coordinator checks them.
        let statisticsIssuer = statisticsQuorum == nil ? nil : try shared.trust.loadIssuerKey()
        // The revocation list: sent to the workers on every version notice, signed with
        // --signing-key, and checked against statistics when there is an issuer.
        let revocations = try shared.trust.loadRevocations()
        let statisticsQuorum = self.statisticsQuorum
        // The workers' --max-client-rate, held here across all of them (per aggregate).
        let clientShare = try shared.defences.defences().updatesPerClientVersion
        let tableScaling: TableScaling? =
            try shared.datasetOptions.publicStandardization().map { .publicBounds($0) } ?? statisticsQuorum.map { .statistics(quorum: $0) }
        let following = shared.trust.followRevocations(into: revocations, logger: logger)
        defer { following?.cancel() }
        shared.trust.warnIfUnauthenticated(role: "coordinator", logger: logger)

        @Sendable func writeSummary(final: Bool) async throws {
            guard let coordinator = current.current else { return }
            var summary = CoordinatorSummary(
                model: await coordinator.model, accounting: await coordinator.accounting,
                seconds: (ContinuousClock.now - started).seconds, reconnects: reconnects.current, final: final,
                privacy: await PrivacySummary.of(coordinator, settings: privacy))
            (summary.model, summary.strategy, summary.serverOptimizer) = (spec.name, kind.description, optimizerRule.description)
            try writeJSON(summary, to: summaryPath)
        }

        try await RoleRuntime.runUntilSignalled(logger: logger) {
            if !lock.tryAcquire() {
                logger.notice("standby: another coordinator owns \(directory); taking over when it is gone")
                try await lock.acquire()
                logger.notice("taking over \(directory)")
            }
            let summaries = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    try await writeSummary(final: false)
                }
            }
            defer { summaries.cancel() }
            try await supervisor.run { transport, reconnected in
                reconnects.current = reconnected
                try await PipelineTopology.ensure(on: transport, shards: shards)
                // A new session starts from the last checkpoint: what was not committed comes back from the broker.
                let coordinator = try Coordinator(
                    transport: transport, spec: spec, initialParameters: initial, strategy: AggregationStrategy(kind, rule: rule),
                    optimizer: ServerOptimizer(optimizerRule), store: store, settledWindow: settledWindow, stalenessHorizon: horizon,
                    maxBufferWait: maxBufferWait, privacy: privacy, signingKey: signingKey,
                    chunkSize: chunkSize, tableScaling: tableScaling, statisticsIssuer: statisticsIssuer,
                    revocations: revocations, updatesPerClient: clientShare, logger: logger
                ) { model in
                    if model.version % 10 == 0 {
                        logger.info("\(model.updatesApplied) updates applied", metadata: ["version": "\(model.version)"])
                    }
                }
                current.current = coordinator
                let model = await coordinator.model
                if await coordinator.isWaitingForStatistics {
                    logger.notice("waiting for \(statisticsQuorum ?? 0) clients' statistics before the first version")
                } else {
                    logger.info("serving version \(model.version) (\(model.updatesApplied) updates applied) from \(store.directory)")
                }
                try await coordinator.announce()
                try await coordinator.run()
            }
            try await writeSummary(final: true)
        }
        logger.info("stopped; summary in \(summaryPath)")
    }
}
