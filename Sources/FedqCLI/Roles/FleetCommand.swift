import ArgumentParser
import CLISupport
import Foundation
import Learning
import Logging
import Messaging
import RabbitMQTransport
import Report
import Roles
import Simulation
import Wire

/// `fedq fleet`: N clients in one process, over one broker connection.
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Run N clients, training on real MNIST partitions, against the broker.",
        discussion: """
            Clients take the newest model version, train, and publish their updates. \
            DIR/published.csv lists every update id the broker confirmed, so a run can be \
            checked against the coordinator's updates.csv; DIR/summary.json has the counts.
            """
    )

    @OptionGroup var shared: SharedOptions
    @OptionGroup(title: "Clients") var fleet: FleetOptions
    @Option(help: "Write published.csv and summary.json here.")
    var out = "runs/fleet"

    func validate() throws {
        _ = try shared.roleConnector(name: "fedq fleet")
    }

    func run() async throws {
        try await ClientRunner(role: "fleet", shared: shared, fleet: fleet, out: out, onlyClient: nil).run()
    }
}

/// `fedq client`: one client of a partition, as a process of its own.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Run one client: partition index I of --clients N (or --clients 1 on its own --data).",
        discussion: """
            The partition is computed exactly as `fedq fleet` and `fedq simulate` do for the \
            same --seed, so client I here trains on what client I trains on there.
            """
    )

    @OptionGroup var shared: SharedOptions
    @OptionGroup(title: "Clients") var fleet: FleetOptions
    @Option(help: "This client's index in the partition (0 ..< --clients).")
    var clientIndex: Int
    @Option(help: "Write published.csv and summary.json here.")
    var out = "runs/client"

    func validate() throws {
        guard (0..<fleet.clients).contains(clientIndex) else {
            throw ValidationError("--client-index must be in 0..<\(fleet.clients) (--clients)")
        }
        _ = try shared.roleConnector(name: "fedq client")
    }

    func run() async throws {
        try await ClientRunner(role: "client \(clientIndex)", shared: shared, fleet: fleet, out: out, onlyClient: clientIndex).run()
    }
}

/// What a fleet and a single client share: load the data, make the clients, keep them
/// publishing across reconnects, and log what was published. The clients are the
/// `Roles` ones (`Client`, run by a `FleetRunner`); the simulation layer goes around them
/// only when the options ask for simulated devices (`--slowdown`, `--dropout`,
/// `--device-ms`) or FedAvg rounds.
struct ClientRunner {
    let role: String
    let config: SimulationConfig
    let shared: SharedOptions
    let out: String
    let onlyClient: Int?

    init(role: String, shared: SharedOptions, fleet: FleetOptions, out: String, onlyClient: Int?) throws {
        var config = SimulationConfig()
        try fleet.apply(to: &config)
        try shared.apply(to: &config)
        self.role = role
        self.config = config
        self.shared = shared
        self.out = out
        self.onlyClient = onlyClient
    }

    func run() async throws {
        let logger = shared.logger(role: role)
        let metrics = try await shared.startMetrics(role: role)
        defer { metrics?.close() }
        let (train, _) = try config.loadData()
        BLASThreads.set(1)
        let spec = config.model
        let seed = config.seed
        let pool = ComputePool<Network>(threads: config.trainingThreads, name: "fedq-train") { Network(spec: spec, seed: seed &+ UInt64($0)) }
        defer { pool.shutdown() }
        let ledger = PipelineLedger()
        let clientIDs = onlyClient.map { [UInt64($0)] } ?? (0..<UInt64(config.clients)).map { $0 }
        let trust = try shared.trust.clientTrust(clientIDs: clientIDs)
        shared.trust.warnIfUnauthenticated(role: role, logger: logger)
        if let line = try config.localPrivacySummaryLine(train: train, onlyClient: onlyClient) { logger.notice("\(line)") }
        let log = try LineLog(path: out + "/published.csv", header: "update_id,client_id,base_version")
        let supervisor = try shared.supervisor(role: role, logger: logger)
        let shards = try shared.shards()
        let fleet = Shared<ClientGroup?>(nil)
        let reconnects = Shared(0)
        let started = ContinuousClock.now
        let (config, onlyClient) = (self.config, self.onlyClient)
        let summaryPath = out + "/summary.json"
        // A live line on a terminal only: logs get the stderr lines.
        let line = Shared(ProgressLine())
        @Sendable func writeSummary() async throws {
            let dropped = await fleet.current?.clientsDropped ?? 0
            var summary = FleetSummary(
                clients: onlyClient == nil ? config.clients : 1, updatesPublished: ledger.snapshot.published,
                bytesPublished: ledger.bytesPublished, clientsDropped: dropped, reconnects: reconnects.current,
                seconds: (ContinuousClock.now - started).seconds)
            summary.codec = config.codec.description
            summary.trainingsDiverged = await fleet.current?.runner.trainingsDiverged ?? 0
            summary.localPrivacy = fleet.current?.runner.privacyBooks.map(LocalPrivacySummary.init)
            try writeJSON(summary, to: summaryPath)
        }
        try await RoleRuntime.runUntilSignalled(logger: logger) {
            try await supervisor.run { transport, reconnected in
                reconnects.current = reconnected
                try await PipelineTopology.ensure(on: transport, shards: shards)
                let clients: ClientGroup
                if let existing = fleet.current {
                    try await existing.runner.publisher.attach(transport)
                    clients = existing
                } else {
                    let runner = try config.makeRunner(
                        transport: transport, train: train, pool: pool, ledger: ledger, onlyClient: onlyClient, trust: trust, logger: logger
                    ) {
                        log.append("\($0.updateID),\($0.clientID),\($0.modelVersion)")
                    }
                    clients = config.simulatesDevices ? .simulated(config.simulate(runner)) : .real(runner)
                    fleet.current = clients
                }
                let models = try await PipelineTopology.subscribeToModels(
                    on: transport, requestCurrent: true,
                    messagesPerVersion: ModelChunks.messagesPerVersion(config.model, chunkSize: config.chunkSize))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await clients.run(models) }
                    group.addTask {
                        // Progress, and the end of a bounded run.
                        var last = -1
                        while true {
                            try await Task.sleep(for: .seconds(1))
                            let published = ledger.snapshot.published
                            if published / 100 != last / 100 { logger.info("\(published) updates published") }
                            let bar = config.maxUpdates.map { ProgressLine.bar(Double(published) / Double($0)) + "  " } ?? ""
                            line.current.update(bar + "\(published) updates published  \(reconnects.current) reconnects")
                            last = published
                            try await writeSummary()
                            if let bound = config.maxUpdates, published >= bound { return }
                        }
                    }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
            try await writeSummary()
        }
        line.current.finish()
        logger.info("stopped after \(ledger.snapshot.published) updates; \(summaryPath)")
    }
}

/// The clients of a fleet or client process: real ones, or real ones on simulated devices.
enum ClientGroup: Sendable {
    case real(FleetRunner)
    case simulated(SimulatedFleet)

    var runner: FleetRunner {
        switch self {
        case .real(let runner): runner
        case .simulated(let fleet): fleet.runner
        }
    }

    var clientsDropped: Int {
        get async {
            switch self {
            case .real: 0
            case .simulated(let fleet): await fleet.clientsDropped
            }
        }
    }

    func run(_ models: Consumer) async throws {
        switch self {
        case .real(let runner): try await runner.run(models)
        case .simulated(let fleet): try await fleet.run(models)
        }
    }
}
