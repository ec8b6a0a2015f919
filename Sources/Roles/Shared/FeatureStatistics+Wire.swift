import Learning
import Wire

/// The bridge between the learning engine's statistics and standardisation and their wire
/// forms, kept in one place so clients, coordinator and evaluator convert the same way.
/// (Wire does not depend on Learning, so the messages carry plain arrays.)
extension StatisticsMessage {
    /// The message a client publishes about its own rows.
    public init(_ statistics: FeatureStatistics, clientID: UInt64, specHash: UInt64) {
        self.init(
            specHash: specHash, clientID: clientID, count: UInt64(statistics.count), sums: statistics.sums,
            sumsOfSquares: statistics.sumsOfSquares)
    }
}

extension FeatureStatistics {
    /// A decoded (so validated) statistics message's numbers.
    public init(_ message: StatisticsMessage) {
        self.init(count: Int(message.count), sums: message.sums, sumsOfSquares: message.sumsOfSquares)
    }
}

extension StandardizationSection {
    public init(_ standardization: Standardization) {
        self.init(means: standardization.means, deviations: standardization.deviations)
    }
}

extension Standardization {
    /// A decoded (so validated: finite, deviations > 0, the table's width) model section.
    public init(_ section: StandardizationSection) {
        self.init(means: section.means, deviations: section.deviations)
    }
}
