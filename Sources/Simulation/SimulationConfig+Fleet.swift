import Aggregation
import FedCore
import Learning
import Logging
import Messaging
import Report
import Roles
import Wire

extension SimulationConfig {
    /// MNIST from `dataDirectory`, or the `table` split into training and held-out rows by
    /// the seed, both **unscaled**, cut to the configured subsets. A table federation's rows
    /// are scaled by each role with the standardisation the model versions carry, merged by
    /// the coordinator from the clients' statistics (`StatisticsAnnouncer`,
    /// `StatisticsQuorum`): no role fits its own, and the test rows are never looked at.
    /// - Throws: `SimulationError.data`.
    public func loadData() throws -> (train: Dataset, test: Dataset) {
        let data: (train: Dataset, test: Dataset)
        if let table {
            do {
                let split = try table.split(seed: seed)
                data = (split.train, split.test)
            } catch let error as DatasetError { throw SimulationError.data(error) }
        } else {
            do { data = try MNIST.load(directory: dataDirectory) } catch { throw SimulationError.data(error) }
        }
        let train = trainSubset.map { data.train.subset(Array(0..<min($0, data.train.count))) } ?? data.train
        let test = testSubset.map { data.test.subset(Array(0..<min($0, data.test.count))) } ?? data.test
        return (train, test)
    }

    /// The configured clients' split and training recipe, the same for a given seed in
    /// `fedq simulate`, `fedq fleet` and `fedq client`.
    /// - Throws: `ModelError` for a bad learning rate or momentum.
    public func clientSettings() throws -> ClientSettings {
        let training = LocalTraining(
            epochs: localEpochs, batchSize: batchSize, optimizer: try SGD(learningRate: learningRate, momentum: momentum),
            codec: codec, residual: residual, decay: try learningRateDecay.map { try LearningRateDecay(halvingVersion: $0) },
            privacy: localPrivacy)
        var settings = ClientSettings(
            spec: model, clients: clients, partition: partition, training: training, concurrency: concurrency,
            maxUpdates: maxUpdates, seed: seed)
        settings.chunkSize = chunkSize
        settings.columns = tableColumns
        settings.tableFederation = table != nil
        settings.sharesStatistics = statisticsQuorum != nil
        settings.privacyBooks = try localPrivacy.map { try LocalPrivacyBooks(settings: $0, file: localPrivacyFile) }
        return settings
    }

    /// The line `simulate` and `fleet` print at start under local DP: its settings and what
    /// they allow (per record, for the client of `train`'s split with the fewest rows, among
    /// all or only `onlyClient`). nil without local DP.
    /// - Throws: `SimulationError` when the data cannot be read or split.
    public func localPrivacySummaryLine(train: Dataset? = nil, onlyClient: Int? = nil) throws -> String? {
        guard let privacy = localPrivacy else { return nil }
        guard privacy.unit == .record else { return privacy.summaryLine() }
        let rows = try train ?? loadData().train
        let split: Partition
        do throws(PartitionError) {
            split = try Partition(scheme: partition, data: rows, columns: tableColumns, clientCount: clients, seed: seed)
        } catch { throw SimulationError.partition(error) }
        let sizes = onlyClient.map { [split.clients[$0].count] } ?? split.clients.map(\.count)
        return privacy.summaryLine(each: privacy.release(records: sizes.min() ?? 0, batchSize: batchSize, epochs: localEpochs))
    }

    /// Whether the clients need the simulation layer at all: slower devices, dropouts or
    /// FedAvg rounds. Without any, `fedq fleet` and `fedq client` run the real clients alone.
    public var simulatesDevices: Bool {
        slowdown != .none || dropout > 0 || deviceTime > .zero || strategy.clientsPerRound != nil
    }

    /// The configured clients publishing on `transport` (`ClientSettings.makeRunner`): all
    /// of the split, or only the one at index `onlyClient` (`fedq client`).
    /// - Throws: `SimulationError.partition`, or `ModelError` for a bad learning rate.
    public func makeRunner(
        transport: any Transport, train: Dataset, pool: ComputePool<Network>, ledger: PipelineLedger,
        onlyClient: Int? = nil, trust: ClientTrust = .none,
        logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() }),
        onPublished: @escaping @Sendable (MessageHeader) -> Void = { _ in }
    ) throws -> FleetRunner {
        let settings = try clientSettings()
        do throws(PartitionError) {
            return try settings.makeRunner(
                train: train, pool: pool, transport: transport, ledger: ledger, only: onlyClient, trust: trust, logger: logger,
                onPublished: onPublished)
        } catch { throw SimulationError.partition(error) }
    }

    /// The simulated devices around `runner`'s clients: their speeds, dropouts and, for
    /// FedAvg, rounds (of one client when the runner has only one).
    public func simulate(_ runner: FleetRunner) -> SimulatedFleet {
        var rng = SeededGenerator(seed: seed ^ 0x5EED)
        // Not the runner's picking seed (`seed &+ 17`): two equal streams would tie a
        // client's dropout to the draw that picked it.
        let settings = FleetSettings(
            slowdown: slowdown.factors(clients: clients, using: &rng), dropout: dropout,
            clientsPerRound: strategy.clientsPerRound, seed: seed &+ 18, deviceTime: deviceTime)
        return SimulatedFleet(runner: runner, settings: settings)
    }
}
