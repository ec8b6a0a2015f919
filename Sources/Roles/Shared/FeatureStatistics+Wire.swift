import Learning
import Wire

/// The bridge between the learning engine's statistics and their wire form, kept in one
/// place so clients and the coordinator convert the same way. (`Standardization` needs no
/// bridge: it is FedCore's, and Wire encodes it as a model version's section.) Wire does
/// not depend on Learning, so the statistics message carries plain arrays.
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
