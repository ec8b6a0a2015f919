import Learning
import Testing

struct PartitionTests {
    /// 10 classes x 600 samples, in a scrambled order.
    static let labels: [Int] = (0..<6000).map { ($0 * 7) % 10 }

    @Test(arguments: ["iid", "shards", "shards:3", "dirichlet:0.3", "dirichlet:10", "quantity:0.5"])
    func everySampleIsInExactlyOneClient(text: String) throws {
        let partition = try Partition(scheme: PartitionScheme(parsing: text), labels: Self.labels, clientCount: 10, seed: 1)
        #expect(partition.clients.count == 10)
        let all = partition.clients.flatMap { $0 }
        #expect(all.count == Self.labels.count)
        #expect(Set(all).count == Self.labels.count)
        #expect(partition.clients.allSatisfy { !$0.isEmpty })
    }

    @Test(arguments: ["iid", "shards", "dirichlet:0.3", "quantity:1"])
    func sameSeedGivesSameSplitAndAnotherSeedAnother(text: String) throws {
        let scheme = try PartitionScheme(parsing: text)
        let a = try Partition(scheme: scheme, labels: Self.labels, clientCount: 10, seed: 4)
        let b = try Partition(scheme: scheme, labels: Self.labels, clientCount: 10, seed: 4)
        let c = try Partition(scheme: scheme, labels: Self.labels, clientCount: 10, seed: 5)
        #expect(a == b)
        #expect(a != c)
    }

    /// McMahan's setting: 60,000 samples, 100 clients, 200 shards of 300.
    @Test func shardsGiveEachClientTwoLabelRunsOf300() throws {
        let labels = (0..<60_000).map { $0 % 10 }
        let partition = try Partition(scheme: .shards(perClient: 2), labels: labels, clientCount: 100, seed: 1)
        let histogram = partition.labelHistogram(labels: labels, classCount: 10)
        for counts in histogram {
            #expect(counts.reduce(0, +) == 600)
            let present = counts.filter { $0 > 0 }
            #expect(present.count <= 2)
            #expect(present.allSatisfy { $0 % 300 == 0 })
        }
        #expect(histogram.filter { $0.filter { $0 > 0 }.count == 2 }.count > 50)
    }

    @Test func iidClientsHaveEqualSizes() throws {
        let partition = try Partition(scheme: .iid, labels: Self.labels, clientCount: 7, seed: 1)
        #expect(Set(partition.clients.map(\.count)).isSubset(of: [857, 858]))
    }

    @Test func dirichletSkewFollowsAlpha() throws {
        func dominantShare(_ alpha: Double) throws -> Double {
            let partition = try Partition(scheme: .dirichlet(alpha: alpha), labels: Self.labels, clientCount: 10, seed: 2)
            let histogram = partition.labelHistogram(labels: Self.labels, classCount: 10)
            // Every class keeps all its 600 samples across the clients.
            for c in 0..<10 { #expect(histogram.map { $0[c] }.reduce(0, +) == 600) }
            let shares = histogram.filter { $0.reduce(0, +) > 0 }.map { Double($0.max()!) / Double($0.reduce(0, +)) }
            return shares.reduce(0, +) / Double(shares.count)
        }
        let skewed = try dominantShare(0.1)
        let even = try dominantShare(1000)
        #expect(skewed > 0.4)
        #expect(even < 0.2)
    }

    /// With 100 clients and alpha 0.05 a single draw can leave a client
    /// empty; the partitioner redraws until every client has samples.
    @Test func dirichletNeverLeavesAClientEmpty() throws {
        let labels = (0..<60_000).map { $0 % 10 }
        for seed: UInt64 in 1...3 {
            let partition = try Partition(scheme: .dirichlet(alpha: 0.05), labels: labels, clientCount: 100, seed: seed)
            #expect(partition.clients.allSatisfy { !$0.isEmpty })
            #expect(partition.clients.map(\.count).reduce(0, +) == 60_000)
        }
    }

    @Test func quantitySkewKeepsLabelsMixedButSizesUneven() throws {
        let partition = try Partition(scheme: .quantity(alpha: 0.3), labels: Self.labels, clientCount: 10, seed: 3)
        let sizes = partition.clients.map(\.count)
        #expect(sizes.max()! > 3 * sizes.min()!)
    }

    @Test(arguments: ["", "iid:2", "shards:0", "dirichlet", "dirichlet:-1", "quantity:x", "random"])
    func badSpecsAreRejected(text: String) {
        #expect(throws: PartitionError.self) { try PartitionScheme(parsing: text) }
    }

    @Test func histogramTableHasARowPerClient() throws {
        let partition = try Partition(scheme: .iid, labels: Self.labels, clientCount: 4, seed: 1)
        let table = partition.histogramTable(labels: Self.labels, classCount: 10)
        #expect(table.split(separator: "\n").count == 5)
        #expect(table.contains("1500"))
    }

    /// 12 rows of three features, the middle one a hospital code (2, 0, 1, 2, 0, 1, ...).
    static let sites: Dataset = {
        let codes: [Float] = (0..<12).map { Float([2, 0, 1][$0 % 3]) }
        let features = (0..<12).flatMap { [Float($0) * 1.5, codes[$0], -Float($0)] }
        return try! Dataset(features: features, labels: (0..<12).map { $0 % 2 }, featureCount: 3, classCount: 2)
    }()
    static let siteColumns = TableColumns(label: "diagnosis", features: ["radius", "hospital", "texture"])

    @Test func parsesAColumnPartition() throws {
        #expect(try PartitionScheme(parsing: "column:hospital") == .column("hospital"))
        #expect(PartitionScheme.column("hospital").description == "column:hospital")
        for bad in ["column", "column:"] {
            #expect(throws: PartitionError.badSpec(bad, "column takes the name of a table column, e.g. column:hospital")) {
                try PartitionScheme(parsing: bad)
            }
        }
    }

    /// One client per value, in increasing value order, every row once, and every client's
    /// rows share one value.
    @Test func aColumnPartitionGivesOneClientPerValue() throws {
        let partition = try Partition(scheme: .column("hospital"), data: Self.sites, columns: Self.siteColumns, clientCount: 3, seed: 9)
        #expect(partition.clients == [[1, 4, 7, 10], [2, 5, 8, 11], [0, 3, 6, 9]])
        for (client, rows) in partition.clients.enumerated() {
            #expect(Set(rows.map { Self.sites.features[$0 * 3 + 1] }) == [Float(client)])
        }
        // The seed plays no part: the table decides.
        #expect(try Partition(scheme: .column("hospital"), data: Self.sites, columns: Self.siteColumns, clientCount: 3, seed: 1) == partition)
        // Standardised rows (the clients') fall into the same clients as the raw ones.
        let scaled = FeatureStatistics(of: Self.sites).standardization.apply(to: Self.sites)
        #expect(try Partition(scheme: .column("hospital"), data: scaled, columns: Self.siteColumns, clientCount: 3, seed: 9) == partition)
    }

    @Test func aColumnPartitionRefusesWhatItCannotSplitBy() {
        let scheme = PartitionScheme.column("hospital")
        #expect(throws: PartitionError.columnWithoutTable("hospital")) {
            try Partition(scheme: scheme, data: Self.sites, columns: nil, clientCount: 3, seed: 1)
        }
        #expect(throws: PartitionError.columnWithoutTable("hospital")) {
            try Partition(scheme: scheme, labels: Self.sites.labels, clientCount: 3, seed: 1)
        }
        #expect(throws: PartitionError.columnIsLabel("diagnosis")) {
            try Partition(scheme: .column("diagnosis"), data: Self.sites, columns: Self.siteColumns, clientCount: 2, seed: 1)
        }
        #expect(throws: PartitionError.noSuchColumn("site", features: ["radius", "hospital", "texture"])) {
            try Partition(scheme: .column("site"), data: Self.sites, columns: Self.siteColumns, clientCount: 3, seed: 1)
        }
        let tooMany = PartitionError.columnClientCount("hospital", values: ["0", "1", "2"], clients: 5)
        #expect(throws: tooMany) { try Partition(scheme: scheme, data: Self.sites, columns: Self.siteColumns, clientCount: 5, seed: 1) }
        #expect(tooMany.description == "column:hospital has 3 values (0, 1, 2) and one client per value, but --clients is 5: run with --clients 3")
    }
}
