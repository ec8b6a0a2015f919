import FedCore
import Learning
import Logging
import Messaging
import Wire

/// The clients of one data split and how they train: the same for a given seed in
/// `fedq simulate`, `fedq fleet` and `fedq client`, so client I of a `fedq client`
/// process trains on what client I trains on in a fleet or a simulation.
public struct ClientSettings: Sendable {
    public var spec: ModelSpec
    /// The number of clients the training data is split between.
    public var clients: Int
    public var partition: PartitionScheme
    public var training: LocalTraining
    /// At most this many clients train at once (FedBuff's "concurrency").
    public var concurrency: Int
    /// Publish no more than this many updates in all (nil: no bound).
    public var maxUpdates: Int?
    public var seed: UInt64
    /// Updates longer than this travel as chunks (`--chunk-size`; docs/wire-format.md, "Chunks").
    public var chunkSize: Int = Chunk.defaultChunkSize
    /// The table's column names, for a partition by column (nil: MNIST, or a table split by label).
    public var columns: TableColumns?
    /// A table federation: clients train on their rows scaled with the model's
    /// standardisation, and drop a model version that carries none
    /// (`ModelVerifier.requiresStandardization`).
    public var tableFederation = false
    /// A table federation scaled by its clients' statistics (not `--feature-ranges`):
    /// clients send their rows' statistics until the first version arrives.
    public var sharesStatistics = false
    /// Under local DP (`training.privacy`), the books of what each client released.
    public var privacyBooks: LocalPrivacyBooks?

    public init(
        spec: ModelSpec, clients: Int, partition: PartitionScheme, training: LocalTraining, concurrency: Int,
        maxUpdates: Int? = nil, seed: UInt64
    ) {
        self.spec = spec
        self.clients = clients
        self.partition = partition
        self.training = training
        self.concurrency = concurrency
        self.maxUpdates = maxUpdates
        self.seed = seed
    }

    /// The clients of the split: all of them, or only the one at index `only` (a
    /// `fedq client` process, which reports that index as its id).
    /// - Throws: `PartitionError` when the data cannot be split so.
    public func makeClients(train: Dataset, only: Int? = nil) throws(PartitionError) -> [Client] {
        let split = try Partition(scheme: partition, data: train, columns: columns, clientCount: clients, seed: seed)
        let indices = only.map { [$0] } ?? Array(split.clients.indices)
        return indices.map { index in
            Client(id: UInt64(index), data: train, shard: split.clients[index], training: training, seed: seed, books: privacyBooks)
        }
    }

    /// The clients (see `makeClients`) publishing on `transport`, ready to run.
    /// - Parameters:
    ///   - trust: the clients' keys and credentials and the coordinator's key (docs/signing.md).
    ///   - onPublished: called once per confirmed update (published.csv).
    public func makeRunner(
        train: Dataset, pool: ComputePool<Network>, transport: any Transport, ledger: PipelineLedger, only: Int? = nil,
        trust: ClientTrust = .none, logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() }),
        onPublished: @escaping @Sendable (MessageHeader) -> Void = { _ in }
    ) throws(PartitionError) -> FleetRunner {
        let publisher = UpdatePublisher(
            transport: transport, ledger: ledger, maxUpdates: maxUpdates, identities: trust.identities,
            chunkSize: chunkSize, onPublished: onPublished)
        let clients = try makeClients(train: train, only: only)
        return FleetRunner(
            clients: clients, spec: spec, pool: pool, publisher: publisher, concurrency: concurrency, seed: seed &+ 17,
            models: ModelVerifier(coordinatorKey: trust.coordinatorKey, requiresStandardization: tableFederation || sharesStatistics, logger: logger),
            statistics: sharesStatistics ? StatisticsAnnouncer(clients: clients, spec: spec) : nil, privacyBooks: privacyBooks,
            logger: logger)
    }
}
