import Aggregation
import Foundation
import Logging
import Messaging
import Roles
import Synchronization

/// What a simulation on RabbitMQ needs to outlive a broker restart or the loss of a cluster
/// node: every role in it reconnects through a `RoleSupervisor`, exactly as the role
/// processes do, and the coordinator checkpoints to `checkpoint`, so a new coordinator
/// session resumes from its last committed version while the broker redelivers whatever
/// had not been settled (the same effectively-once path as a restarted `fedq coordinator`).
/// Without it (the embedded broker, which lives and dies with the process) a lost
/// connection fails the run.
public struct SimulationRecovery: Sendable {
    /// The coordinator's checkpoint and `updates.csv` directory: the run owns it and starts
    /// it empty, as it starts the queues empty.
    public var checkpoint: String
    /// Give up after failing to connect for this long (since the last working connection).
    public var patience: Duration
    public var logger: Logger

    public init(checkpoint: String, patience: Duration = .seconds(300), logger: Logger) {
        self.checkpoint = checkpoint
        self.patience = patience
        self.logger = logger
    }

    /// A fresh checkpoint directory: a checkpoint left by an earlier run would resume a model
    /// whose updates the purge just threw away.
    func freshStore() throws -> CoordinatorStore {
        if FileManager.default.fileExists(atPath: checkpoint) { try FileManager.default.removeItem(atPath: checkpoint) }
        return try CoordinatorStore(directory: checkpoint)
    }
}

/// How each role of a simulation gets its connection: one for the whole run, or, with
/// recovery, a new one after each loss (`RoleSupervisor`).
struct RoleSessions: Sendable {
    let connect: @Sendable () async throws(TransportError) -> any Transport
    let recovery: SimulationRecovery?

    /// Runs `session` on a connection of its own until it returns, throws or is cancelled;
    /// with recovery, again on a new connection after each loss of the old one.
    func run(_ role: String, _ session: @Sendable (any Transport, _ reconnects: Int) async throws -> Void) async throws {
        guard let recovery else {
            let transport = try await connect()
            do {
                try await session(transport, 0)
            } catch {
                await transport.close()
                throw error
            }
            await transport.close()
            return
        }
        var logger = recovery.logger
        logger[metadataKey: "role"] = "\(role)"
        try await RoleSupervisor(role: role, patience: recovery.patience, logger: logger, connect: connect).run(session)
    }
}

/// The role objects of the sessions now running, which a reconnect replaces: the run's
/// watch loop and its wind-down read the current ones.
final class SessionRoles: Sendable {
    private struct State {
        var coordinator: Coordinator?
        var workers: [Int: any AggregatingWorker] = [:]
        /// Updates clipped by workers of earlier sessions (a redelivered update may be
        /// clipped again by the next: the count is a statistic, not part of the books).
        var clippedBefore = 0
        var fleet: SimulatedFleet?
    }
    private let state = Mutex(State())

    var coordinator: Coordinator? {
        get { state.withLock { $0.coordinator } }
        set { state.withLock { $0.coordinator = newValue } }
    }

    var fleet: SimulatedFleet? {
        get { state.withLock { $0.fleet } }
        set { state.withLock { $0.fleet = newValue } }
    }

    /// The current worker of each slot.
    var workers: [any AggregatingWorker] { state.withLock { Array($0.workers.values) } }

    /// Makes `worker` the current one of `slot`, keeping its predecessor's clipped count.
    func replaceWorker(_ slot: Int, with worker: any AggregatingWorker) async {
        let previous = state.withLock { $0.workers.updateValue(worker, forKey: slot) }
        guard let previous else { return }
        let clipped = await previous.updatesClipped
        state.withLock { $0.clippedBefore += clipped }
    }

    /// Updates clipped by every worker of the run.
    func updatesClipped() async -> Int {
        var total = state.withLock { $0.clippedBefore }
        for worker in workers { total += await worker.updatesClipped }
        return total
    }

    /// The current coordinator's books (empty before its first session).
    func accounting() async -> AggregationAccounting {
        guard let coordinator else { return AggregationAccounting() }
        return await coordinator.accounting
    }
}
