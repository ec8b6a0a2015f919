import Learning

/// The coordinator's decisions about clients' feature statistics in a table federation, as a
/// value with no I/O: collect one statistics message per client until `quorum` clients have
/// sent theirs, then freeze the merged standardisation for the rest of the run.
///
/// Why freeze: every model version carries the standardisation, and a weight means something
/// only relative to the scaling its inputs had; merging a late client would silently change
/// what every earlier version meant. Why dedupe by client id: a client resends its statistics
/// until it sees a model (a coordinator may start after it), and one client's rows must count
/// once. Merging in client-id order makes the Float64 sums, and so the standardisation, the
/// same whatever order the messages arrived in.
public struct StatisticsQuorum: Sendable, Equatable {
    /// What became of one statistics message.
    public enum Decision: Sendable, Equatable {
        /// Merged; `collected` clients so far, not yet a quorum.
        case merged(collected: Int)
        /// Merged, and it completed the quorum: the standardisation is now frozen.
        case froze(Standardization, clients: Int)
        /// This client's statistics were already merged: acknowledged, not counted again.
        case duplicate
        /// The standardisation is already frozen: acknowledged, counted as late, not merged.
        case late
    }

    /// Clients whose statistics are needed before the first model version.
    public let quorum: Int
    public let featureCount: Int
    public private(set) var collected: [UInt64: FeatureStatistics] = [:]
    /// The standardisation every model version carries; nil until the quorum is reached.
    public private(set) var frozen: Standardization?
    /// Statistics that arrived after the freeze.
    public private(set) var lateCount = 0
    public private(set) var duplicateCount = 0

    /// - Parameter quorum: at least 1 (clamped), since a standardisation of no rows is none.
    public init(quorum: Int, featureCount: Int) {
        self.quorum = max(1, quorum)
        self.featureCount = featureCount
    }

    /// A quorum restored from a checkpoint: already frozen, so a restart publishes the same
    /// standardisation and merges nothing more.
    public init(restoring standardization: Standardization, quorum: Int) {
        self.init(quorum: quorum, featureCount: standardization.featureCount)
        frozen = standardization
    }

    /// Decides about `statistics` from `clientID` (already validated by the wire decoder,
    /// including its width; a mismatched width is refused here too, never merged).
    public mutating func receive(_ statistics: FeatureStatistics, from clientID: UInt64) -> Decision {
        precondition(statistics.featureCount == featureCount, "statistics of another width reached the quorum")
        if frozen != nil {
            lateCount += 1
            return .late
        }
        guard collected[clientID] == nil else {
            duplicateCount += 1
            return .duplicate
        }
        collected[clientID] = statistics
        guard collected.count >= quorum else { return .merged(collected: collected.count) }
        let standardization = merged.standardization
        frozen = standardization
        return .froze(standardization, clients: collected.count)
    }

    /// The collected clients' statistics added up, in client-id order.
    public var merged: FeatureStatistics {
        var total = FeatureStatistics(featureCount: featureCount)
        for clientID in collected.keys.sorted() { total.merge(collected[clientID]!) }
        return total
    }
}
