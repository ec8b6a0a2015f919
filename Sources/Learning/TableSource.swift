/// A CSV table as a federation's data (`--dataset`, `--label`, `--test-fraction`): which
/// file, which column is the label, and how much of each class is held out for testing.
public struct TableSource: Sendable, Equatable {
    public var path: String
    public var label: String
    public var testFraction: Double

    public init(path: String, label: String, testFraction: Double = 0.2) {
        self.path = path
        self.label = label
        self.testFraction = testFraction
    }

    /// The table, split into the clients' rows and held-out test rows by `seed`, and
    /// standardised with statistics merged from each client's own rows.
    ///
    /// A client shares only its count, per-feature sums and sums of squares
    /// (`FeatureStatistics`): no row leaves it, and the test rows are never looked at.
    /// The merged statistics equal those of all training rows, because the clients'
    /// rows are disjoint; they are computed client by client all the same, so the code
    /// path is the one a deployment runs.
    /// - Parameter clients: the clients' row indices into the training split (unscaled),
    ///   from its labels or, for a partition by column, from the column's values.
    /// - Throws: `DatasetError` for a missing or malformed table; whatever `clients` throws.
    public func prepare<Failure: Error>(
        seed: UInt64, clients: (_ train: Dataset, _ columns: TableColumns) throws(Failure) -> [[Int]]
    ) throws -> PreparedTable {
        let table = try split(seed: seed)
        var statistics = FeatureStatistics(featureCount: table.train.featureCount)
        for rows in try clients(table.train, table.columns) { statistics.merge(table.statistics(of: rows)) }
        return table.standardized(with: statistics.standardization)
    }

    /// The table split into training and test rows by `seed`, not yet standardised: the
    /// pieces a deployment needs, where each client computes `statistics(of:)` over its own
    /// rows, the coordinator merges them, and every role `apply`s the model's standardisation.
    /// - Throws: `DatasetError` for a missing or malformed table.
    public func split(seed: UInt64) throws -> SplitTable {
        let table = try CSVTable.load(path: path, label: label)
        let (train, test) = table.dataset.split(testFraction: testFraction, seed: seed)
        return SplitTable(train: train, test: test, columns: table.columns, classNames: table.classNames)
    }
}

/// A table split into unscaled training and test rows (`TableSource.split`).
public struct SplitTable: Sendable {
    /// The training rows, unscaled; clients' row indices point into these.
    public let train: Dataset
    /// The held-out rows, unscaled: never looked at for the standardisation.
    public let test: Dataset
    public let columns: TableColumns
    public let classNames: [String]

    /// What a client shares about its rows `rows` (indices into `train`): count, sums and
    /// sums of squares per feature. No row leaves the client.
    public func statistics(of rows: [Int]) -> FeatureStatistics { FeatureStatistics(of: train, indices: rows) }

    /// Both splits standardised with `standardization` (in a federation: the model's, merged
    /// from the clients' statistics), so every role scales its rows with the same numbers.
    public func standardized(with standardization: Standardization) -> PreparedTable {
        PreparedTable(
            train: standardization.apply(to: train), test: standardization.apply(to: test), classNames: classNames,
            standardization: standardization)
    }
}

/// A table ready to train on: `TableSource.prepare`'s result.
public struct PreparedTable: Sendable {
    public let train: Dataset
    public let test: Dataset
    /// The label column's values, sorted: class i is `classNames[i]`.
    public let classNames: [String]
    public let standardization: Standardization
}
