import FedCore

/// How a table federation's coordinator comes by the standardisation every model version
/// carries (docs/models.md, "Input preprocessing").
public enum TableScaling: Sendable, Equatable {
    /// Merged from the statistics of the first `quorum` clients (`StatisticsQuorum`): no
    /// version goes out before they arrived.
    case statistics(quorum: Int)
    /// From public bounds known before any client's rows (`--feature-ranges`,
    /// `FeatureRanges`): version 0 carries it, and statistics that clients send anyway are
    /// acknowledged and counted late, never merged. What differential privacy needs: it
    /// releases nothing about the clients' rows (docs/privacy.md).
    case publicBounds(Standardization)

    /// The quorum that starts collecting statistics: already frozen for public bounds, or
    /// when `checkpointed` (a restart keeps what it published).
    func quorum(featureCount: Int, checkpointed: Standardization?) -> StatisticsQuorum {
        switch self {
        case .statistics(let quorum):
            checkpointed.map { StatisticsQuorum(restoring: $0, quorum: quorum) } ?? StatisticsQuorum(quorum: quorum, featureCount: featureCount)
        case .publicBounds(let standardization):
            StatisticsQuorum(restoring: checkpointed ?? standardization, quorum: 1)
        }
    }
}
