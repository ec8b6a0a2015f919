import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
import Report
import Roles
import Wire

/// How the simulated clients behave.
public struct FleetSettings: Sendable {
    /// At most this many clients train at once (FedBuff's "concurrency").
    public var concurrency: Int
    /// Per-client slowdown factors (≥ 1), from `SlowdownSpec`.
    public var slowdown: [Double]
    /// Probability that a client vanishes mid-training and never reports.
    public var dropout: Double
    /// Synchronous rounds of this many sampled clients (FedAvg); nil for asynchronous training.
    public var clientsPerRound: Int?
    public var seed: UInt64
    /// The shortest local training a simulated device does, before its slowdown. This
    /// machine trains a small model in milliseconds, a phone or a hospital's server takes
    /// far longer: without a floor, fixed costs (messaging, evaluation) and not device
    /// speed would decide wall-clock comparisons such as FedBuff against FedAvg rounds.
    public var deviceTime: Duration
    /// Clients publish no more than this many updates in all (nil: no bound), so runs
    /// compared "at equal updates" really are.
    public var maxUpdates: Int?
    /// The id of the first client in the partition given to the fleet: a `fedq client`
    /// is one client of a larger split and reports its own id.
    public var firstClientID = 0

    public init(
        concurrency: Int, slowdown: [Double], dropout: Double, clientsPerRound: Int?, seed: UInt64,
        deviceTime: Duration = .zero, maxUpdates: Int? = nil
    ) {
        self.concurrency = max(1, concurrency)
        self.deviceTime = deviceTime
        self.maxUpdates = maxUpdates
        self.slowdown = slowdown
        self.dropout = dropout
        self.clientsPerRound = clientsPerRound
        self.seed = seed
    }
}

/// N simulated clients sharing one process: each takes the newest global
/// model, trains on its own partition on a compute thread, and publishes its
/// update. Asynchronously, a finished client frees its slot for a waiting one
/// at once; in synchronous rounds (the FedAvg baseline) the round waits for
/// all its clients, stragglers included.
public actor SimulatedFleet {
    private var transport: any Transport
    private let spec: ModelSpec
    private let data: Dataset
    private let partition: [[Int]]
    private let training: LocalTraining
    private let pool: ComputePool<Network>
    private let settings: FleetSettings
    private let ledger: PipelineLedger
    private var latest: GlobalModel?
    private var waiting: [(after: ModelVersion?, continuation: CheckedContinuation<GlobalModel, any Error>)] = []
    /// Set when the model subscription ends (the fleet is stopping): no newer version can
    /// arrive, so a round waiting for one would wait forever and keep `run` from returning.
    private var subscriptionEnded = false
    private var feedback: [Int: ErrorFeedback] = [:]
    private var busy: Set<Int> = []
    private var generator: SeededGenerator
    public private(set) var clientsDropped = 0
    public private(set) var updatesPublished = 0
    /// Updates whose publish failed with the connection: the broker may or may not have
    /// them, so they go out again (same id) on the next connection before anything
    /// else; a copy that arrives twice is settled once by the coordinator.
    private var outbox: [(body: [UInt8], header: MessageHeader)] = []
    private let onPublished: @Sendable (MessageHeader) -> Void

    public init(
        transport: any Transport, spec: ModelSpec, data: Dataset, partition: [[Int]], training: LocalTraining,
        pool: ComputePool<Network>, settings: FleetSettings, ledger: PipelineLedger,
        onPublished: @escaping @Sendable (MessageHeader) -> Void = { _ in }
    ) {
        self.onPublished = onPublished
        self.transport = transport
        self.spec = spec
        self.data = data
        self.partition = partition
        self.training = training
        self.pool = pool
        self.settings = settings
        self.ledger = ledger
        generator = SeededGenerator(seed: settings.seed)
    }

    /// Subscribes to the model fanout. Call before the first version is published, or
    /// with `requestCurrent` to also be sent the version the coordinator has now.
    public func subscribe(requestCurrent: Bool = false) async throws -> Consumer {
        try await PipelineTopology.subscribeToModels(on: transport, requestCurrent: requestCurrent)
    }

    /// Continues on a new connection (after the old one was lost): republishes the
    /// updates whose confirms never came.
    public func attach(_ transport: any Transport) async throws {
        self.transport = transport
        while let pending = outbox.first {
            try await transport.publish(
                pending.body, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey,
                properties: PipelineMessage.properties(for: pending.header), mandatory: true)
            outbox.removeFirst()
            published(pending.body.count, pending.header)
        }
    }

    private func published(_ bytes: Int, _ header: MessageHeader) {
        ledger.recordPublished(bytes: bytes)
        PipelineMetrics.updatesPublished.increment()
        onPublished(header)
    }

    /// Receives models and runs clients until cancelled.
    public func run(_ models: Consumer) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await delivery in models {
                        let model = try PipelineMessage.decodeModel(delivery, spec: self.spec)
                        await self.received(model)
                        try await delivery.ack()
                    }
                } catch {
                    await self.endSubscription()
                    throw error
                }
                await self.endSubscription()
            }
            group.addTask {
                if let perRound = self.settings.clientsPerRound {
                    try await self.runRounds(clientsPerRound: perRound)
                } else {
                    try await self.runAsynchronously()
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func received(_ model: GlobalModel) {
        guard latest.map({ $0.version < model.version }) ?? true else { return }
        latest = model
        let ready = waiting.filter { $0.after.map { $0 < model.version } ?? true }
        waiting.removeAll { $0.after.map { $0 < model.version } ?? true }
        for waiter in ready { waiter.continuation.resume(returning: model) }
    }

    private func endSubscription() {
        subscriptionEnded = true
        let stranded = waiting
        waiting = []
        for waiter in stranded { waiter.continuation.resume(throwing: CancellationError()) }
    }

    /// The newest model, once one newer than `version` exists.
    /// - Throws: `CancellationError` once the subscription ended without one.
    private func model(after version: ModelVersion?) async throws -> GlobalModel {
        if let latest, version.map({ $0 < latest.version }) ?? true { return latest }
        guard !subscriptionEnded else { throw CancellationError() }
        return try await withCheckedThrowingContinuation { waiting.append((version, $0)) }
    }

    private func runAsynchronously() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<settings.concurrency {
                group.addTask {
                    while !Task.isCancelled {
                        let client = await self.pickIdleClient()
                        let model = try await self.model(after: nil)
                        try await self.train(client: client, from: model)
                        await self.release(client)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func runRounds(clientsPerRound: Int) async throws {
        var previous: ModelVersion?
        while !Task.isCancelled {
            let model = try await model(after: previous)
            previous = model.version
            var chosen = Array((0..<partition.count).shuffled(using: &generator).prefix(clientsPerRound))
            // A client that drops out is replaced, as a FedAvg server re-samples to fill its round.
            while !chosen.isEmpty {
                let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for client in chosen { group.addTask { try await self.train(client: client, from: model) } }
                    var finished = 0
                    for try await published in group where published { finished += 1 }
                    return finished
                }
                let missing = chosen.count - finished
                chosen = Array((0..<partition.count).shuffled(using: &generator).prefix(missing))
            }
        }
    }

    private func pickIdleClient() -> Int {
        var client = Int.random(in: 0..<partition.count, using: &generator)
        while busy.contains(client) && busy.count < partition.count {
            client = Int.random(in: 0..<partition.count, using: &generator)
        }
        busy.insert(client)
        return client
    }

    private func release(_ client: Int) {
        busy.remove(client)
    }

    /// Trains one client and publishes its update.
    /// - Returns: false when the client dropped out and published nothing.
    @discardableResult
    private func train(client: Int, from model: GlobalModel) async throws -> Bool {
        let dropsOut = Double.random(in: 0..<1, using: &generator) < settings.dropout
        let seed = generator.next()
        let previousFeedback = feedback[client] ?? (training.codec.topkFraction == nil ? nil : ErrorFeedback(parameterCount: model.parameters.count))
        let (training, data, indices) = (self.training, self.data, partition[client])
        let clientID = UInt64(settings.firstClientID + client)
        let started = ContinuousClock.now
        let (result, computeTime) = await pool.run { (network: inout Network) in
            let start = ContinuousClock.now
            let result = Result {
                try training.run(
                    on: network, model: model, data: data, indices: indices, clientID: clientID,
                    feedback: previousFeedback, seed: seed)
            }
            return (result, ContinuousClock.now - start)
        }
        let outcome = try result.get()
        // A device needs `slowdown` times the compute this machine needed (at least the
        // simulated device time), counted from when the client started.
        let deviceTime = max(computeTime, settings.deviceTime) * settings.slowdown[client]
        let wait = deviceTime - (ContinuousClock.now - started)
        if wait > .zero { try await Task.sleep(for: wait) }
        try Task.checkCancellation()
        if dropsOut {
            clientsDropped += 1
            return false
        }
        if let maxUpdates = settings.maxUpdates, updatesPublished >= maxUpdates { return false }
        if let updated = outcome.feedback { feedback[client] = updated }
        // Counted before the (suspending) publish so concurrent clients cannot overshoot the bound.
        updatesPublished += 1
        do {
            try await transport.publish(
                outcome.message, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey,
                properties: PipelineMessage.properties(for: outcome.header), mandatory: true)
        } catch {
            if RoleSupervisor.isConnectionLoss(error) { outbox.append((outcome.message, outcome.header)) }
            throw error
        }
        published(outcome.message.count, outcome.header)
        return true
    }
}
