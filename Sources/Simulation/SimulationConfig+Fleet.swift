import Aggregation
import FedCore
import Learning
import Messaging
import Report
import Roles
import Wire

extension SimulationConfig {
    /// MNIST from `dataDirectory`, cut to the configured subsets.
    /// - Throws: `SimulationError.data`.
    public func loadData() throws -> (train: Dataset, test: Dataset) {
        let data: (train: Dataset, test: Dataset)
        do { data = try MNIST.load(directory: dataDirectory) } catch { throw SimulationError.data(error) }
        let train = trainSubset.map { data.train.subset(Array(0..<min($0, data.train.count))) } ?? data.train
        let test = testSubset.map { data.test.subset(Array(0..<min($0, data.test.count))) } ?? data.test
        return (train, test)
    }

    /// The configured clients: their data split, speeds and training recipe, the same
    /// for a given seed in `fedq simulate`, `fedq fleet` and `fedq client` (which passes
    /// `onlyClient`, its index in the split, and runs that one client alone).
    /// - Throws: `SimulationError.partition`, or `SGDError` for a bad learning rate.
    public func makeFleet(
        transport: any Transport, train: Dataset, pool: ComputePool<Network>, ledger: PipelineLedger,
        onlyClient: Int? = nil, onPublished: @escaping @Sendable (MessageHeader) -> Void = { _ in }
    ) throws -> SimulatedFleet {
        let partition: Partition
        do {
            partition = try Partition(scheme: self.partition, labels: train.labels, clientCount: clients, seed: seed)
        } catch { throw SimulationError.partition(error) }
        var rng = SeededGenerator(seed: seed ^ 0x5EED)
        let factors = slowdown.factors(clients: clients, using: &rng)
        let clientsPerRound = strategy.clientsPerRound
        var settings = FleetSettings(
            concurrency: concurrency, slowdown: factors, dropout: dropout, clientsPerRound: clientsPerRound,
            seed: seed &+ 17, deviceTime: deviceTime, maxUpdates: maxUpdates)
        var clients = partition.clients
        if let only = onlyClient {
            clients = [clients[only]]
            settings.slowdown = [factors[only]]
            settings.concurrency = 1
            settings.clientsPerRound = clientsPerRound.map { _ in 1 }
            settings.firstClientID = only
        }
        let training = LocalTraining(
            epochs: localEpochs, batchSize: batchSize, optimizer: try SGD(learningRate: learningRate, momentum: momentum),
            codec: codec)
        return SimulatedFleet(
            transport: transport, spec: model, data: train, partition: clients, training: training, pool: pool,
            settings: settings, ledger: ledger, onPublished: onPublished)
    }
}
