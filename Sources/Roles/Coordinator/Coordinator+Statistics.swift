import FedCore
import Messaging

/// A table federation's statistics at the coordinator: collected until the quorum, then
/// frozen into the standardisation every model version carries (docs/models.md, "Input
/// preprocessing"). The decisions are `StatisticsQuorum`'s and `StatisticsVerifier`'s,
/// values with no I/O; this file does the I/O they call for.
extension Coordinator {
    /// Whether this is a table federation whose standardisation is not frozen yet: no
    /// version may go out until it is.
    public var isWaitingForStatistics: Bool { statistics.map { $0.frozen == nil } ?? false }

    /// The frozen standardisation (nil: MNIST, or the quorum is not reached yet).
    public var standardization: Standardization? { statistics?.frozen }

    /// Verifies, merges and acknowledges one statistics message. The one that completes the
    /// quorum freezes the standardisation: it is put in the model and checkpointed before
    /// the first version is published, and acknowledged only after both, so a crash in
    /// between gets it back from the broker (and the clients send theirs again until a
    /// model arrives). A refused message is counted and logged, never merged.
    func takeStatistics(_ delivery: Delivery) async throws {
        switch statisticsVerifier.check(delivery.body, properties: delivery.properties) {
        case .failure(let rejection):
            PipelineMetrics.statisticsRejected(rejection.reason).increment()
            logger.warning("statistics refused", metadata: [
                "reason": "\(rejection.reason.name)", "detail": "\(rejection.detail)", "bytes": "\(delivery.body.count)",
            ])
        case .success(let (clientID, received)):
            PipelineMetrics.statisticsReceived.increment()
            guard var quorum = statistics else { break }
            let decision = quorum.receive(received, from: clientID)
            statistics = quorum
            switch decision {
            case .merged(let collected):
                logger.info("statistics of \(collected) of \(quorum.quorum) clients", metadata: ["client": "\(clientID)"])
            case .froze(let standardization, let clients):
                try adopt(standardization)
                logger.notice("standardisation frozen from \(clients) clients' statistics (\(quorum.merged.count) rows)")
                try await announce()
            case .duplicate, .late:
                break
            }
        }
        try await delivery.ack()
    }
}
