import FedCore
import Learning
import Logging
import Messaging

/// Many clients in one process over one connection, as `fedq fleet` runs them (and
/// `fedq client`, with one): at most `concurrency` train at once, and a finished client
/// frees its slot at once for an idle one, each taking the newest model (FedBuff's
/// asynchronous clients).
///
/// It owns what the clients share: the compute threads they train on and the publisher
/// their updates leave through. The simulator reuses both, and the turn-taking, with
/// device times and dropouts of its own (`run(on:turn:)`).
public actor FleetRunner {
    public nonisolated let clients: [Client]
    public nonisolated let spec: ModelSpec
    public nonisolated let pool: ComputePool<Network>
    public nonisolated let publisher: UpdatePublisher
    /// What the clients accept from the model fanout.
    public nonisolated let models: ModelVerifier
    /// Never more than there are clients: two slots must not train one client at once.
    public nonisolated let concurrency: Int
    /// Picks the next idle client (seeded, so a run picks the same order).
    private var generator: SeededGenerator
    private var busy: Set<Int> = []
    /// The version each client last trained on: a client trains once per version.
    private var lastTrained: [Int: ModelVersion] = [:]
    /// Clients that spent their local privacy budget: never picked again.
    private var retired: Set<Int> = []
    private let logger: Logger
    /// A table federation's statistics, sent until the first model version (nil: MNIST).
    public nonisolated let statistics: StatisticsAnnouncer?
    /// Under local DP, the books of what each client released (nil: off).
    public nonisolated let privacyBooks: LocalPrivacyBooks?
    /// Turns whose training diverged (`LocalTrainingError`): they published nothing.
    public private(set) var trainingsDiverged = 0
    /// Whether a final version ended the fleet's turns.
    public private(set) var finalReached = false

    public init(
        clients: [Client], spec: ModelSpec, pool: ComputePool<Network>, publisher: UpdatePublisher, concurrency: Int,
        seed: UInt64, models: ModelVerifier = ModelVerifier(coordinatorKey: nil), statistics: StatisticsAnnouncer? = nil,
        privacyBooks: LocalPrivacyBooks? = nil, logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.privacyBooks = privacyBooks
        self.statistics = statistics
        self.logger = logger
        self.models = models
        precondition(!clients.isEmpty, "a fleet needs at least one client")
        self.clients = clients
        self.spec = spec
        self.pool = pool
        self.publisher = publisher
        self.concurrency = min(max(1, concurrency), clients.count)
        generator = SeededGenerator(seed: seed)
    }

    /// Receives models and lets the clients train and publish until cancelled, until the
    /// subscription ends, or until the publisher's bound on updates was reached.
    public func run(_ models: Consumer) async throws {
        let (pool, publisher) = (self.pool, self.publisher)
        try await ModelFeed.serve(models, spec: spec, verifier: self.models) { feed in
            try await self.announcingStatistics(to: feed) {
                try await self.run(on: feed) { client, model in
                    _ = try await client.participate(in: model, pool: pool, publisher: publisher)
                }
            }
        }
    }

    /// Runs `body` while the clients' statistics go out (a table federation), until the
    /// feed has a model; `body` returning stops the sending too.
    public nonisolated func announcingStatistics(to feed: ModelFeed, _ body: @Sendable () async throws -> Void) async throws {
        guard let statistics else { return try await body() }
        let (publisher, logger) = (self.publisher, self.logger)
        async let _ = statistics.run(via: publisher, until: feed, logger: logger)
        try await body()
    }

    /// Runs `turn` for one idle client after another on the feed's newest model, in
    /// `concurrency` slots, until cancelled or until the publisher's bound was reached
    /// (a turn in progress finishes first, so what it published is confirmed on return).
    ///
    /// A turn whose training diverged is counted and logged, and its slot waits for a
    /// newer version than the one that diverged: retrying the same model with another
    /// client would most likely diverge again and only burn the device's compute.
    ///
    /// A slot picks a client that has not trained on the current version yet, as devices
    /// that train on the versions they receive would; only when every idle client has (a
    /// fleet smaller than the buffer) does one train on it again, so the buffer still
    /// fills. (Picking any idle client let a fast client send up to the workers'
    /// `--max-client-rate` updates from one version, all landing in one aggregate: under DP
    /// its sensitivity was then that many clips; BENCHMARKS.md.)
    ///
    /// A final version (`GlobalModel.isFinal`: a private run's budget is spent) ends every
    /// slot: an update trained on it could only be refused.
    ///
    /// A client whose local privacy budget is spent (`LocalTrainingError.privacyBudgetSpent`)
    /// is retired for good; a slot that finds no client left to pick ends, and once every
    /// client is retired, so does the run.
    public func run(on feed: ModelFeed, turn: @escaping @Sendable (Client, GlobalModel) async throws -> Void) async throws {
        let publisher = self.publisher
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    // The slot waits for a version newer than this one: its training diverged.
                    var after: ModelVersion?
                    while !Task.isCancelled, await !publisher.isFull {
                        let model = try await feed.model(after: after)
                        after = nil
                        if model.isFinal {
                            await self.reachedFinal(model.version)
                            return
                        }
                        guard let index = await self.pickIdleClient(preferringUntrainedOn: model.version) else { return }
                        do {
                            try await turn(self.clients[index], model)
                        } catch LocalTrainingError.privacyBudgetSpent(let client, let epsilon) {
                            await self.retire(index, error: .privacyBudgetSpent(client: client, epsilon: epsilon))
                        } catch let error as LocalTrainingError {
                            after = model.version
                            await self.record(error, client: self.clients[index].id)
                        } catch {
                            await self.release(index)
                            throw error
                        }
                        await self.release(index)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// A random client that is neither training nor retired, one that has not trained on
    /// `version` when there is one (nil: every client is training or retired).
    private func pickIdleClient(preferringUntrainedOn version: ModelVersion) -> Int? {
        guard busy.union(retired).count < clients.count else { return nil }
        func idle(_ client: Int) -> Bool { !busy.contains(client) && !retired.contains(client) }
        func fresh(_ client: Int) -> Bool { idle(client) && lastTrained[client] != version }
        // A few random draws find one in a large fleet; the lists are built only when they miss.
        var client: Int? = nil
        for _ in 0..<16 where client == nil {
            let draw = Int.random(in: 0..<clients.count, using: &generator)
            if fresh(draw) { client = draw }
        }
        if client == nil {
            var candidates = clients.indices.filter(fresh)
            if candidates.isEmpty { candidates = clients.indices.filter(idle) }
            client = candidates[Int.random(in: 0..<candidates.count, using: &generator)]
        }
        guard let client else { return nil }
        busy.insert(client)
        lastTrained[client] = version
        return client
    }

    /// The clients that may still publish (FedAvg rounds sample from these).
    public var activeClients: [Int] { clients.indices.filter { !retired.contains($0) } }

    /// Clients retired because their local privacy budget is spent.
    public var clientsRetired: Int { retired.count }

    /// Retires a client whose local privacy budget is spent, saying so once.
    public func retire(_ client: Int, error: LocalTrainingError) {
        guard retired.insert(client).inserted else { return }
        logger.notice("\(error)")
        if retired.count == clients.count { logger.notice("every client has spent its local privacy budget: the clients stop") }
    }

    private func record(_ error: LocalTrainingError, client: UInt64) {
        trainingsDiverged += 1
        logger.warning("client \(client): \(error)")
    }

    /// Says once that the run is over.
    private func reachedFinal(_ version: ModelVersion) {
        guard !finalReached else { return }
        finalReached = true
        logger.notice("version \(version) is the run's last (the privacy budget is spent): the clients stop training")
    }

    private func release(_ client: Int) {
        busy.remove(client)
    }
}
