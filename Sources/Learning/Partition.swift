/// Sample indices per client. Every sample of the dataset is in exactly one
/// client's list; the same scheme, labels, client count and seed give the
/// same split on every run.
public struct Partition: Sendable, Equatable {
    public let scheme: PartitionScheme
    public let clients: [[Int]]

    /// - Parameter labels: the dataset's labels (`Dataset.labels`).
    /// - Throws: `PartitionError.tooFewSamples` when some client would get no sample.
    public init(scheme: PartitionScheme, labels: [Int], clientCount: Int, seed: UInt64) throws(PartitionError) {
        let n = labels.count
        var generator = SeededGenerator(seed: seed)
        self.scheme = scheme
        switch scheme {
        case .iid:
            guard n >= clientCount else { throw .tooFewSamples(samples: n, needed: clientCount, scheme: "\(scheme)") }
            var order = Array(0..<n)
            order.shuffle(using: &generator)
            clients = Self.cut(order, sizes: Self.evenSizes(total: n, parts: clientCount))
        case .shards(let perClient):
            let shardCount = clientCount * perClient
            guard n >= shardCount else { throw .tooFewSamples(samples: n, needed: shardCount, scheme: "\(scheme)") }
            // Stable sort by label, so that shards are runs of one label.
            let sorted = (0..<n).sorted { labels[$0] != labels[$1] ? labels[$0] < labels[$1] : $0 < $1 }
            let shards = Self.cut(sorted, sizes: Self.evenSizes(total: n, parts: shardCount))
            var deal = Array(0..<shardCount)
            deal.shuffle(using: &generator)
            clients = (0..<clientCount).map { client in
                (0..<perClient).flatMap { shards[deal[client * perClient + $0]] }
            }
        case .dirichlet(let alpha):
            guard n >= clientCount else { throw .tooFewSamples(samples: n, needed: clientCount, scheme: "\(scheme)") }
            let classCount = (labels.max() ?? -1) + 1
            var byClass = [[Int]](repeating: [], count: classCount)
            for (i, label) in labels.enumerated() { byClass[label].append(i) }
            // A client left with no sample cannot train; redraw the split
            // (deterministically, from the same generator) until none is empty.
            var lists: [[Int]] = []
            for _ in 0..<Self.dirichletAttempts {
                lists = [[Int]](repeating: [], count: clientCount)
                for var members in byClass where !members.isEmpty {
                    members.shuffle(using: &generator)
                    let proportions = generator.nextDirichlet(alpha: alpha, count: clientCount)
                    for (client, part) in Self.cut(members, sizes: Self.apportion(members.count, by: proportions)).enumerated() {
                        lists[client].append(contentsOf: part)
                    }
                }
                if lists.allSatisfy({ !$0.isEmpty }) { break }
            }
            guard lists.allSatisfy({ !$0.isEmpty }) else {
                throw .emptyClient(scheme: "\(scheme)", attempts: Self.dirichletAttempts)
            }
            clients = lists
        case .quantity(let alpha):
            guard n >= clientCount else { throw .tooFewSamples(samples: n, needed: clientCount, scheme: "\(scheme)") }
            var order = Array(0..<n)
            order.shuffle(using: &generator)
            // One sample each first, so that no client is empty; the rest by the draw.
            let proportions = generator.nextDirichlet(alpha: alpha, count: clientCount)
            let sizes = Self.apportion(n - clientCount, by: proportions).map { $0 + 1 }
            clients = Self.cut(order, sizes: sizes)
        case .column(let name):
            // Labels alone cannot say which rows share a value: `init(scheme:data:columns:...)`.
            throw .columnWithoutTable(name)
        }
    }

    /// The split of `data`'s rows: by their labels, or for `column:NAME` by the value of
    /// that feature column of `columns`, one client per distinct value in increasing
    /// order. The client count is the table's, not a choice: `clientCount` must equal the
    /// number of values, so a `fedq client --index I` knows which site it is.
    ///
    /// Standardising a column maps it by an increasing function, so the same rows go to
    /// the same clients, in the same order, before and after standardisation.
    /// - Parameter columns: the table's label and feature names (nil: MNIST).
    /// - Throws: `PartitionError` for a column that is missing, is the label or has
    ///   another number of values than `clientCount`; as the label-only init otherwise.
    public init(
        scheme: PartitionScheme, data: Dataset, columns: TableColumns?, clientCount: Int, seed: UInt64
    ) throws(PartitionError) {
        guard case .column(let name) = scheme else {
            try self.init(scheme: scheme, labels: data.labels, clientCount: clientCount, seed: seed)
            return
        }
        guard let columns else { throw .columnWithoutTable(name) }
        guard name != columns.label else { throw .columnIsLabel(name) }
        guard let feature = columns.features.firstIndex(of: name) else { throw .noSuchColumn(name, features: columns.features) }
        let values = (0..<data.count).map { data.features[$0 * data.featureCount + feature] }
        let distinct = Array(Set(values)).sorted()
        guard distinct.count == clientCount else {
            throw .columnClientCount(name, values: distinct.map { String(format: "%g", Double($0)) }, clients: clientCount)
        }
        let client = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
        var lists = [[Int]](repeating: [], count: clientCount)
        for (row, value) in values.enumerated() { lists[client[value]!].append(row) }
        self.init(scheme: scheme, clients: lists)
    }

    private init(scheme: PartitionScheme, clients: [[Int]]) {
        self.scheme = scheme
        self.clients = clients
    }

    /// Samples per class for each client: the histogram users print to see
    /// how skewed a split is.
    public func labelHistogram(labels: [Int], classCount: Int) -> [[Int]] {
        clients.map { indices in
            var counts = Array(repeating: 0, count: classCount)
            for i in indices { counts[labels[i]] += 1 }
            return counts
        }
    }

    /// The histogram as a text table, one row per client.
    public func histogramTable(labels: [Int], classCount: Int) -> String {
        let header = "client " + (0..<classCount).map { pad("c\($0)") }.joined() + pad("total")
        let rows = labelHistogram(labels: labels, classCount: classCount).enumerated().map { client, counts in
            pad(String(client), width: 6) + " " + counts.map { pad(String($0)) }.joined() + pad(String(counts.reduce(0, +)))
        }
        return ([header] + rows).joined(separator: "\n")
    }

    private func pad(_ text: String, width: Int = 6) -> String {
        String(repeating: " ", count: max(width - text.count, 0)) + text
    }

    static let dirichletAttempts = 1000

    static func evenSizes(total: Int, parts: Int) -> [Int] {
        (0..<parts).map { (($0 + 1) * total) / parts - ($0 * total) / parts }
    }

    /// Integer sizes summing to `total`, proportional to `proportions`
    /// (cumulative rounding, so nothing is lost or duplicated).
    static func apportion(_ total: Int, by proportions: [Double]) -> [Int] {
        var sizes: [Int] = []
        var cumulative = 0.0
        var assigned = 0
        for (i, p) in proportions.enumerated() {
            cumulative += p
            let end = i == proportions.count - 1 ? total : min(Int((cumulative * Double(total)).rounded()), total)
            sizes.append(max(end - assigned, 0))
            assigned = max(end, assigned)
        }
        return sizes
    }

    static func cut(_ items: [Int], sizes: [Int]) -> [[Int]] {
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return Array(items[start..<(start + size)])
        }
    }
}
