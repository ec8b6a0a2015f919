import FedCore
import Learning
import Logging

/// A table federation's clients telling the coordinator about their rows: each client's
/// count, sums and sums of squares (`Client.statistics`), sent to `fedq.statistics` until
/// a model version arrives, which carries the standardisation merged from them.
///
/// Why send again: the coordinator keeps what it collected only in memory until the
/// quorum is reached (a standardisation it froze is checkpointed), and it may start after
/// the clients, restart, or run on a broker whose queue an operator purged. Repeats cost
/// nothing: it counts one message per client id (`StatisticsQuorum`), and once frozen
/// acknowledges late ones without merging them.
public struct StatisticsAnnouncer: Sendable {
    public struct Entry: Sendable {
        public var clientID: UInt64
        public var statistics: FeatureStatistics
    }

    public let entries: [Entry]
    public let spec: ModelSpec
    /// Pause between two rounds of sending.
    public let interval: Duration

    public init(clients: [Client], spec: ModelSpec, interval: Duration = .seconds(5)) {
        entries = clients.map { Entry(clientID: $0.id, statistics: $0.statistics) }
        self.spec = spec
        self.interval = interval
    }

    /// Sends every client's statistics through `publisher`, then again every `interval`,
    /// until `feed` has a model (or the task is cancelled). A failed round is logged and
    /// tried again: the connection's loss ends the feed's subscription anyway, and the
    /// fleet's supervisor starts a new session, announcer included.
    public func run(via publisher: UpdatePublisher, until feed: ModelFeed, logger: Logger) async {
        while !Task.isCancelled, await !feed.hasModel {
            do {
                for entry in entries {
                    try await publisher.publishStatistics(entry.statistics, clientID: entry.clientID, spec: spec)
                }
                logger.debug("statistics sent", metadata: ["clients": "\(entries.count)"])
            } catch is CancellationError {
                return
            } catch {
                logger.warning("statistics not sent: \(error)")
            }
            try? await Task.sleep(for: interval)
        }
    }
}
