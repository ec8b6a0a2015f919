import FedCore
import Learning
import Messaging
import Trust
import Wire

/// Where clients' updates leave the process: one connection shared by every client of a
/// fleet, replaced after a reconnect. It publishes with a confirm, counts what the broker
/// took (the ledger, the metric, the `onPublished` log line), holds a bound on how many
/// updates go out in all, and keeps the updates whose confirm never came for the next
/// connection.
public actor UpdatePublisher {
    private var transport: any Transport
    private let ledger: PipelineLedger
    private let maxUpdates: Int?
    private let onPublished: @Sendable (MessageHeader) -> Void
    /// The clients' keys and credentials by client id: with any, every update is signed
    /// (docs/signing.md), and one of a client without them is not sent.
    private let identities: [UInt64: ClientIdentity]
    /// Updates longer than this travel as chunks (`--chunk-size`; docs/wire-format.md, "Chunks").
    private let chunkSize: Int
    /// The last chunked update being sent: the next waits for it, so this publisher's chunk
    /// sets reach the queue one after another, not interleaved (a worker completes them in
    /// turn instead of holding many half sets).
    private var chunkedTail: Task<Void, any Error>?
    /// Updates accepted for publishing, confirmed or not: the count the bound applies to.
    public private(set) var accepted = 0
    /// Updates whose publish failed with the connection: the broker may or may not have
    /// them, so they go out again (same id) on the next connection before anything
    /// else; a copy that arrives twice is settled once by the coordinator.
    private var outbox: [(body: [UInt8], header: MessageHeader)] = []

    /// - Parameters:
    ///   - maxUpdates: publish no more than this many updates in all (nil: no bound), so
    ///     runs compared "at equal updates" really are and `fedq client --max-updates 1`
    ///     sends exactly one.
    ///   - identities: sign each update with its client's key and credential (empty: unsigned).
    ///   - chunkSize: updates longer than this are published as chunks to `fedq.update-chunks`.
    ///   - onPublished: called once per confirmed update (published.csv).
    public init(
        transport: any Transport, ledger: PipelineLedger, maxUpdates: Int? = nil, identities: [UInt64: ClientIdentity] = [:],
        chunkSize: Int = Chunk.defaultChunkSize, onPublished: @escaping @Sendable (MessageHeader) -> Void = { _ in }
    ) {
        self.chunkSize = chunkSize
        self.identities = identities
        self.transport = transport
        self.ledger = ledger
        self.maxUpdates = maxUpdates
        self.onPublished = onPublished
    }

    /// Whether the bound on updates has been reached.
    public var isFull: Bool { maxUpdates.map { accepted >= $0 } ?? false }

    /// Publishes one update to the updates exchange and returns once the broker confirmed it.
    /// - Returns: false, sending nothing, once the bound on updates was reached.
    /// - Throws: the transport's error; after a connection loss the update waits for `attach`.
    public func publish(_ update: LocalTraining.Outcome) async throws -> Bool {
        guard !isFull else { return false }
        // Counted before the (suspending) publish so concurrent clients cannot overshoot the bound.
        accepted += 1
        do {
            try await send(update.message, update.header)
        } catch {
            if RoleSupervisor.isRecoverable(error) { outbox.append((update.message, update.header)) }
            throw error
        }
        return true
    }

    /// Publishes client `clientID`'s statistics to `fedq.statistics` (a table federation,
    /// before its first model version) and returns once the broker confirmed them. Signed
    /// like the client's updates; neither counted as an update nor held to the bound. Not
    /// kept for a later connection: the `StatisticsAnnouncer` sends again until a model comes.
    /// - Throws: `UpdatePublisherError.noCredential` in a signing fleet without this client's
    ///   identity, `WireError` for statistics no decoder would take, or the transport's error.
    public func publishStatistics(_ statistics: FeatureStatistics, clientID: UInt64, spec: ModelSpec) async throws {
        let identity = identities[clientID]
        if !identities.isEmpty && identity == nil { throw UpdatePublisherError.noCredential(clientID: clientID) }
        let (body, properties) = try PipelineMessage.encodeStatistics(statistics, clientID: clientID, spec: spec, signedBy: identity)
        try await transport.publish(
            body, exchange: PipelineTopology.statisticsExchange, routingKey: PipelineTopology.statisticsRoutingKey,
            properties: properties, mandatory: true)
    }

    /// Continues on a new connection (after the old one was lost): republishes the
    /// updates whose confirms never came, oldest first.
    public func attach(_ transport: any Transport) async throws {
        self.transport = transport
        while let pending = outbox.first {
            try await send(pending.body, pending.header)
            outbox.removeFirst()
        }
    }

    private func send(_ body: [UInt8], _ header: MessageHeader) async throws {
        var properties = PipelineMessage.properties(for: header)
        if !identities.isEmpty {
            guard let identity = identities[header.clientID] else { throw UpdatePublisherError.noCredential(clientID: header.clientID) }
            // Ed25519 is deterministic: a republished update carries the same signature.
            properties = PipelineMessage.signed(update: properties, body: body, by: identity)
        }
        if body.count > chunkSize {
            // After a failure all its chunks go again (the worker settles repeats with their set).
            let (previous, transport, chunkSize) = (chunkedTail, transport, chunkSize)
            let sending = Task {
                _ = await previous?.result
                try await transport.publishChunkedUpdate(body, properties: properties, chunkSize: chunkSize)
            }
            chunkedTail = sending
            try await sending.value
            return confirmed(body, header)
        }
        try await transport.publish(
            body, exchange: PipelineTopology.updatesExchange, routingKey: UpdateShards.routingKey(client: header.clientID),
            properties: properties, mandatory: true)
        confirmed(body, header)
    }

    /// Counts an update the broker confirmed.
    private func confirmed(_ body: [UInt8], _ header: MessageHeader) {
        ledger.recordPublished(bytes: body.count)
        PipelineMetrics.updatesPublished.increment()
        onPublished(header)
    }
}

/// A signing fleet was asked to publish for a client it holds no credential of.
public enum UpdatePublisherError: Error, CustomStringConvertible {
    case noCredential(clientID: UInt64)

    public var description: String {
        switch self {
        case .noCredential(let id): "no key and credential for client \(id): its update would be refused as unauthenticated"
        }
    }
}
