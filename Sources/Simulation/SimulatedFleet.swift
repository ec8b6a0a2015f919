import FedCore
import Learning
import Messaging
import Roles

/// What only a simulated fleet has: devices slower than this machine, devices that
/// vanish, and a FedAvg server's sampling of rounds.
public struct FleetSettings: Sendable {
    /// Slowdown factors (≥ 1) of every client of the split, indexed by client id, from `SlowdownSpec`.
    public var slowdown: [Double]
    /// Probability that a client vanishes mid-training and never reports.
    public var dropout: Double
    /// Synchronous rounds of this many sampled clients (FedAvg); nil for asynchronous training.
    public var clientsPerRound: Int?
    /// Seeds the dropout draws and round samples; keep it apart from the runner's seed.
    public var seed: UInt64
    /// The shortest local training a simulated device does, before its slowdown. This
    /// machine trains a small model in milliseconds, a phone or a hospital's server takes
    /// far longer: without a floor, fixed costs (messaging, evaluation) and not device
    /// speed would decide wall-clock comparisons such as FedBuff against FedAvg rounds.
    public var deviceTime: Duration

    public init(slowdown: [Double], dropout: Double, clientsPerRound: Int?, seed: UInt64, deviceTime: Duration = .zero) {
        self.slowdown = slowdown
        self.dropout = dropout
        self.clientsPerRound = clientsPerRound
        self.seed = seed
        self.deviceTime = deviceTime
    }
}

/// The real clients of a `FleetRunner` as simulated devices: each turn takes its device's
/// time (slowdown × compute, at least `deviceTime`), some clients drop out and publish
/// nothing, and with FedAvg the fleet plays the server's part, sampling each round's
/// clients and waiting for all of them, stragglers included. Training, encoding and
/// publishing are the clients' own (`Client`); nothing here is done twice.
public actor SimulatedFleet {
    public nonisolated let runner: FleetRunner
    private let settings: FleetSettings
    /// Draws dropouts and round samples (seeded, so a run repeats its choices).
    private var generator: SeededGenerator
    public private(set) var clientsDropped = 0

    public init(runner: FleetRunner, settings: FleetSettings) {
        self.runner = runner
        self.settings = settings
        generator = SeededGenerator(seed: settings.seed)
    }

    /// Receives models and runs clients until cancelled, until the subscription ends, or
    /// until the publisher's bound on updates was reached.
    public func run(_ models: Consumer) async throws {
        try await ModelFeed.serve(models, spec: runner.spec, verifier: runner.models) { feed in
            try await self.runner.announcingStatistics(to: feed) {
                if let perRound = self.settings.clientsPerRound {
                    try await self.runRounds(on: feed, clientsPerRound: perRound)
                } else {
                    try await self.runner.run(on: feed) { client, model in _ = try await self.turn(client, from: model) }
                }
            }
        }
    }

    private func runRounds(on feed: ModelFeed, clientsPerRound: Int) async throws {
        let clients = runner.clients
        let publisher = runner.publisher
        var previous: ModelVersion?
        while !Task.isCancelled, await !publisher.isFull {
            let model = try await feed.model(after: previous)
            previous = model.version
            var chosen = await sample(min(clientsPerRound, clients.count))
            // Every client spent its local privacy budget: no round can fill again.
            if chosen.isEmpty { return }
            // A client that drops out is replaced, as a FedAvg server re-samples to fill its round.
            while !chosen.isEmpty, await !publisher.isFull {
                let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in chosen {
                        group.addTask {
                            // A diverged training is replaced like a dropout: the round still fills,
                            // and a client out of local privacy budget is retired and replaced.
                            do {
                                return try await self.turn(clients[index], from: model)
                            } catch let error as LocalTrainingError {
                                if case .privacyBudgetSpent = error { await self.runner.retire(index, error: error) }
                                return false
                            }
                        }
                    }
                    var finished = 0
                    for try await published in group where published { finished += 1 }
                    return finished
                }
                chosen = await sample(chosen.count - finished)
            }
        }
    }

    /// `count` clients drawn from those that may still publish.
    private func sample(_ count: Int) async -> [Int] {
        Array(await runner.activeClients.shuffled(using: &generator).prefix(count))
    }

    /// One client's turn on a simulated device.
    /// - Returns: false when the client dropped out (or the bound was reached) and published nothing.
    private func turn(_ client: Client, from model: GlobalModel) async throws -> Bool {
        let dropsOut = Double.random(in: 0..<1, using: &generator) < settings.dropout
        let started = ContinuousClock.now
        let update = try await client.train(from: model, on: runner.pool)
        // A device needs `slowdown` times the compute this machine needed (at least the
        // simulated device time), counted from when the client started.
        let deviceTime = max(update.computeTime, settings.deviceTime) * settings.slowdown[Int(client.id)]
        let wait = deviceTime - (ContinuousClock.now - started)
        if wait > .zero { try await Task.sleep(for: wait) }
        try Task.checkCancellation()
        if dropsOut {
            clientsDropped += 1
            return false
        }
        return try await client.publish(update, via: runner.publisher)
    }
}
