/// Labelled samples: features as one contiguous row-major `count x
/// featureCount` Float buffer (so a batch is a few memcpys), labels in
/// `0..<classCount`.
public struct Dataset: Sendable {
    public let features: [Float]
    public let labels: [Int]
    public let featureCount: Int
    public let classCount: Int
    public var count: Int { labels.count }

    /// - Throws: `DatasetError.shapeMismatch` when the features do not hold
    ///   `labels.count` rows or a label is outside `0..<classCount`.
    public init(features: [Float], labels: [Int], featureCount: Int, classCount: Int) throws(DatasetError) {
        guard featureCount > 0, features.count == labels.count * featureCount else {
            throw .shapeMismatch("\(features.count) feature values do not make \(labels.count) rows of \(featureCount)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classCount }) {
            throw .shapeMismatch("label \(bad) is outside 0..<\(classCount)")
        }
        self.features = features
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
    }

    /// A copy holding only the samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        var rows = [Float]()
        rows.reserveCapacity(indices.count * featureCount)
        for i in indices { rows.append(contentsOf: features[(i * featureCount)..<((i + 1) * featureCount)]) }
        return try! Dataset(features: rows, labels: indices.map { labels[$0] }, featureCount: featureCount, classCount: classCount)
    }

    /// Samples per class among `indices` (all samples when nil).
    public func labelCounts(indices: [Int]? = nil) -> [Int] {
        var counts = Array(repeating: 0, count: classCount)
        if let indices {
            for i in indices { counts[labels[i]] += 1 }
        } else {
            for label in labels { counts[label] += 1 }
        }
        return counts
    }
}
