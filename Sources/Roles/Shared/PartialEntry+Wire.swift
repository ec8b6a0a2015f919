import Aggregation
import Wire

// One mapping between an aggregate's entry and its wire form, both ways: every field an
// entry gains (the checksum, the client) travels without a second place to remember it.

extension PartialAggregateSummary.Entry {
    /// The wire form of an entry of a worker's aggregate.
    init(_ entry: PartialAggregate.Entry) {
        self.init(updateID: entry.id, baseVersion: entry.baseVersion, checksum: entry.checksum, clientID: entry.clientID)
    }
}

extension PartialAggregate.Entry {
    /// An entry as a partial's section carried it.
    init(_ entry: PartialAggregateSummary.Entry) {
        self.init(id: entry.updateID, baseVersion: entry.baseVersion, checksum: entry.checksum, clientID: entry.clientID)
    }
}
