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

    /// The table split into training and test rows by `seed`, not yet standardised: each
    /// client computes `statistics(of:)` over its own rows and sends them to the coordinator,
    /// which merges them (`StatisticsQuorum`) into the standardisation every model version
    /// carries; every role then applies the model's numbers. No row leaves a client, and the
    /// test rows are never looked at.
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

/// A table ready to train on: both splits scaled with one standardisation (`SplitTable.standardized`).
public struct PreparedTable: Sendable {
    public let train: Dataset
    public let test: Dataset
    /// The label column's values, sorted: class i is `classNames[i]`.
    public let classNames: [String]
    public let standardization: Standardization
}
