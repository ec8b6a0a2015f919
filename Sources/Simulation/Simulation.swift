import Aggregation
import FedCore
import Foundation
import Learning
import Privacy
import Messaging
import Report
import Roles
import Synchronization
import Wire


/// Why a simulation could not run.
public enum SimulationError: Error, CustomStringConvertible {
    case data(DatasetError)
    case partition(PartitionError)
    case accountingMismatch(published: Int, settled: Int)

    public var description: String {
        switch self {
        case .data(let error): "cannot load the training data: \(error)"
        case .partition(let error): "cannot partition the data: \(error)"
        case .accountingMismatch(let published, let settled):
            "accounting mismatch: \(published) updates published but \(settled) applied, dropped or rejected"
        }
    }
}

/// The whole pipeline in one process: clients → updates exchange → aggregator
/// workers → coordinator → model fanout → clients and evaluator, all over the
/// embedded broker (or any `Transport`), each role on its own connection.
public struct Simulation: Sendable {
    public let config: SimulationConfig

    public init(config: SimulationConfig) {
        self.config = config
    }

    /// Progress as the run goes: the live line and the per-evaluation lines.
    public struct Progress: Sendable {
        public var version: ModelVersion
        public var accuracy: Double?
        public var updatesPerSecond: Double
        public var meanStaleness: Double
        public var elapsed: Double
        public var applied: Int
        public var evaluated: Bool
        /// Differential privacy: ε spent so far (nil: DP off).
        public var privacyEpsilon: Double? = nil
    }

    /// Runs until the target accuracy, the time limit or the update limit, each role on a
    /// connection of its own from `connect` (all closed again at the end, however it ends).
    /// On a broker that outlives the run the pipeline's queues are purged first: this run
    /// owns them, and whatever an earlier one left there would be counted in this one.
    /// - Parameter stop: asked to stop early (Ctrl-C), the run stops its clients, settles
    ///   what they published, evaluates the last model and returns a result marked
    ///   `interrupted`, so its outputs can still be written.
    public func run(
        connect: @Sendable () async throws -> any Transport, stop: StopRequest = StopRequest(),
        progress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) async throws -> RunResult {
        let (train, test) = try config.loadData()

        BLASThreads.set(1)
        let spec = config.model
        let seed = config.seed
        let trainingPool = ComputePool<Network>(threads: config.trainingThreads, name: "fedq-train") { Network(spec: spec, seed: seed &+ UInt64($0)) }
        let evaluationPool = ComputePool<Network>(threads: 1, name: "fedq-eval") { _ in Network(spec: spec, seed: seed) }
        defer {
            trainingPool.shutdown()
            evaluationPool.shutdown()
        }

        let connections = try await RoleConnections.open(workers: config.workers, connect: connect)
        do {
            let result = try await run(
                on: connections, train: train, test: test, trainingPool: trainingPool, evaluationPool: evaluationPool, stop: stop,
                progress: progress)
            await connections.closeAll()
            return result
        } catch {
            await connections.closeAll()
            throw error
        }
    }

    private func run(
        on connections: RoleConnections, train: Dataset, test: Dataset, trainingPool: ComputePool<Network>, evaluationPool: ComputePool<Network>,
        stop: StopRequest, progress: @escaping @Sendable (Progress) -> Void
    ) async throws -> RunResult {
        let spec = config.model
        let seed = config.seed
        try await PipelineTopology.declare(on: connections.setup)
        try await PipelineTopology.purge(on: connections.setup)
        let ledger = PipelineLedger()
        let started = ContinuousClock.now
        let target = TargetWatch()

        let policy = AggregationStrategy(config.strategy).stalenessPolicy(
            StalenessPolicy(function: config.staleness, maxStaleness: config.maxStaleness, weighsBySamples: config.weighBySamples))
        let flushUpdates = config.strategy.workerFlushSize(workers: config.workers, rule: config.aggregateRule)
        let workers = connections.workers.map { transport in
            var settings = WorkerSettings(
                flushUpdates: flushUpdates, flushInterval: config.flushInterval, staleness: policy,
                clipNorm: config.privacy?.clipNorm, defences: config.defences)
            settings.chunkSize = config.chunkSize
            return AggregatorWorker(transport: transport, spec: spec, settings: settings)
        }
        let coordinator = try Coordinator(
            transport: connections.coordinator, spec: spec, initialParameters: Network(spec: spec, seed: seed).parameters,
            strategy: AggregationStrategy(config.strategy, rule: config.aggregateRule), optimizer: ServerOptimizer(config.serverOptimizer),
            stalenessHorizon: policy.horizon, privacy: config.privacy, chunkSize: config.chunkSize)
        // The coordinator keeps the books of what became of each update; the fleet counts what it published.
        @Sendable func books() async -> AggregationAccounting {
            var books = await coordinator.accounting
            books.merge(ledger.snapshot)
            return books
        }
        let goal = config.targetAccuracy
        let evaluator = Evaluator(
            spec: spec, test: test, pool: evaluationPool, minimumInterval: config.evaluationInterval,
            started: started
        ) { record, model in
            target.observe(record, updatesApplied: model.updatesApplied, goal: goal)
            progress(Progress(
                version: record.version, accuracy: record.accuracy, updatesPerSecond: 0, meanStaleness: 0,
                elapsed: record.seconds, applied: model.updatesApplied, evaluated: true, privacyEpsilon: model.privacyEpsilon))
        }
        let fleet = config.simulate(try config.makeRunner(transport: connections.fleet, train: train, pool: trainingPool, ledger: ledger))

        // Subscribe everyone to the model fanout before version 0 goes out.
        let perVersion = ModelChunks.messagesPerVersion(spec, chunkSize: config.chunkSize)
        let evaluatorModels = try await PipelineTopology.subscribeToModels(on: connections.evaluator, messagesPerVersion: perVersion)
        let fleetModels = try await PipelineTopology.subscribeToModels(on: connections.fleet, messagesPerVersion: perVersion)
        var throughput: [(x: Double, y: Double)] = []

        try await withThrowingTaskGroup(of: Void.self) { roles in
            roles.addTask { try await coordinator.run() }
            for worker in workers { roles.addTask { try await worker.run() } }
            roles.addTask { try await evaluator.run(evaluatorModels) }
            try await coordinator.announce()
            let fleetTask = Task { try await fleet.run(fleetModels) }
            let adversary = config.attack.map { attack in
                Adversary(attack: attack, spec: spec, clientID: AttackSpec.clientID(clients: config.clients), seed: seed)
            }
            let attackTask = adversary.map { adversary in
                Task { try await adversary.run(on: connections.fleet, ledger: ledger) { await coordinator.model } }
            }

            // Watch the run: progress, throughput samples, and the stop condition.
            var lastApplied = 0
            var lastTime = 0.0
            while !stop.isRequested {
                try await Task.sleep(for: .milliseconds(250))
                let elapsed = (ContinuousClock.now - started).seconds
                let accounting = await books()
                let rate = Double(accounting.applied - lastApplied) / max(1e-9, elapsed - lastTime)
                throughput.append((elapsed, rate))
                (lastApplied, lastTime) = (accounting.applied, elapsed)
                let version = await coordinator.model.version
                progress(Progress(
                    version: version, accuracy: target.latestAccuracy, updatesPerSecond: rate,
                    meanStaleness: accounting.meanStaleness, elapsed: elapsed, applied: accounting.applied, evaluated: false,
                    privacyEpsilon: await coordinator.privacyEpsilon))
                if target.reached || elapsed >= config.maxSeconds { break }
                if let maxUpdates = config.maxUpdates, accounting.published >= maxUpdates { break }
                // The privacy budget is spent: no further aggregate may be released.
                if accounting.rejected[.privacyBudget, default: 0] > 0 { break }
            }

            // Stop the clients, then let every published update settle.
            fleetTask.cancel()
            attackTask?.cancel()
            _ = await fleetTask.result
            _ = await attackTask?.result
            for _ in 0..<400 where await books().inFlight > 0 {
                try await Task.sleep(for: .milliseconds(25))
                for worker in workers { await worker.drain() }
                try await coordinator.drain()
            }
            roles.cancelAll()
        }

        let finalModel = await coordinator.model
        try await evaluator.evaluate(finalModel)
        let history = await evaluator.history
        let accounting = await books()
        guard accounting.inFlight == 0 else {
            throw SimulationError.accountingMismatch(published: accounting.published, settled: accounting.settled)
        }
        var clipped = 0
        for worker in workers { clipped += await worker.updatesClipped }
        var summary = RunSummary(
            reachedTarget: target.reached, targetAccuracy: goal, secondsToTarget: target.secondsToTarget,
            updatesToTarget: target.updatesToTarget, finalAccuracy: history.last?.accuracy ?? 0,
            bestAccuracy: history.map(\.accuracy).max() ?? 0, modelVersions: finalModel.version,
            updatesPublished: accounting.published, updatesApplied: accounting.applied,
            updatesDroppedStale: accounting.droppedStale, updatesRejected: accounting.rejectedTotal,
            rejectedByReason: Dictionary(uniqueKeysWithValues: accounting.rejected.map { ($0.key.name, $0.value) }),
            clientsDropped: await fleet.clientsDropped, bytesPublished: ledger.bytesPublished,
            meanStaleness: accounting.meanStaleness, seconds: (ContinuousClock.now - started).seconds,
            interrupted: stop.isRequested, privacy: await PrivacySummary.of(coordinator, settings: config.privacy))
        summary.updatesClipped = clipped
        return RunResult(
            summary: summary, history: history, throughput: throughput,
            stalenessHistogram: accounting.stalenessHistogram, settings: config.settings)
    }

    /// One connection per role, as separate processes would hold them.
    private struct RoleConnections {
        let setup: any Transport
        let workers: [any Transport]
        let coordinator: any Transport
        let evaluator: any Transport
        let fleet: any Transport

        /// Opens them all, or closes those already open and rethrows.
        static func open(workers: Int, connect: () async throws -> any Transport) async throws -> RoleConnections {
            var opened: [any Transport] = []
            do {
                for _ in 0..<(workers + 4) { opened.append(try await connect()) }
            } catch {
                for connection in opened { await connection.close() }
                throw error
            }
            return RoleConnections(
                setup: opened[0], workers: Array(opened[4...]), coordinator: opened[1], evaluator: opened[2],
                fleet: opened[3])
        }

        func closeAll() async {
            for connection in [setup, coordinator, evaluator, fleet] + workers { await connection.close() }
        }
    }
}

/// Asks a running simulation to stop early (Ctrl-C, SIGTERM): it winds down as at its
/// end, so every published update is still accounted for and the outputs are written.
public final class StopRequest: Sendable {
    private let requested = Atomic(false)

    public init() {}

    public func request() { requested.store(true, ordering: .releasing) }

    public var isRequested: Bool { requested.load(ordering: .acquiring) }
}

/// Notes when the target accuracy is first reached (the evaluator calls it
/// from its own task; the run loop reads it).
final class TargetWatch: Sendable {
    private struct State {
        var reached = false
        var secondsToTarget: Double?
        var updatesToTarget: Int?
        var latestAccuracy: Double?
    }
    private let state = Mutex(State())

    func observe(_ record: EvaluationRecord, updatesApplied: Int, goal: Double) {
        state.withLock {
            $0.latestAccuracy = record.accuracy
            if !$0.reached && record.accuracy >= goal {
                $0.reached = true
                $0.secondsToTarget = record.seconds
                $0.updatesToTarget = updatesApplied
            }
        }
    }

    var reached: Bool { state.withLock { $0.reached } }
    var secondsToTarget: Double? { state.withLock { $0.secondsToTarget } }
    var updatesToTarget: Int? { state.withLock { $0.updatesToTarget } }
    var latestAccuracy: Double? { state.withLock { $0.latestAccuracy } }
}
