import Foundation
import ArgumentParser
import Learning

/// What a federation learns from, the same flags on `simulate` and every role: MNIST
/// (the default), or a CSV table whose rows the clients split among them.
public struct DatasetOptions: ParsableArguments {
    @Option(help: "Learn from this CSV table (a header row, numeric features, a label column) instead of MNIST.")
    public var dataset: String?
    @Option(help: "With --dataset: the label column's name; its values, sorted, are the classes.")
    public var label: String?
    @Option(help: "With --dataset: the fraction of each class held out for testing, chosen by --seed.")
    public var testFraction = 0.2
    @Option(
        help: """
            With --dataset: scale each feature by public bounds from this CSV (feature,min,max), known \
            before any client's rows, instead of by the clients' statistics: no client sends statistics \
            and the first version goes out at once. Needed with --dp-clip (docs/privacy.md).
            """)
    public var featureRanges: String?

    public init() {}

    /// The flags `EnvironmentDefaults` fills from `FEDQ_*` variables.
    public static let environmentFlags = ["dataset", "label", "test-fraction", "feature-ranges"]

    public func validate() throws {
        guard (dataset == nil) == (label == nil) else { throw ValidationError("--dataset and --label go together") }
        guard featureRanges == nil || dataset != nil else { throw ValidationError("--feature-ranges needs --dataset (MNIST needs no scaling)") }
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1), got \(testFraction)") }
    }

    /// The table, or nil for MNIST.
    public var table: TableSource? {
        guard let dataset, let label else { return nil }
        return TableSource(path: dataset, label: label, testFraction: testFraction)
    }

    /// The samples' shape, the class names and the column names: the table's (read once
    /// to know them), else MNIST's (nil names: the digits; no columns).
    /// - Throws: `ValidationError` naming `--dataset` for a missing or malformed table.
    public func shape() throws -> (shape: SampleShape, classCount: Int, classNames: [String]?, columns: TableColumns?) {
        guard let loaded = try loadTable() else { return (.mnist, 10, nil, nil) }
        return (.flat(loaded.dataset.featureCount), loaded.classNames.count, loaded.classNames, loaded.columns)
    }

    /// The standardisation from `--feature-ranges` for the table's features (nil: none given,
    /// the clients' statistics make it).
    /// - Throws: `ValidationError` naming `--feature-ranges`, the file and the problem.
    public func publicStandardization() throws -> Standardization? {
        guard let featureRanges, let table = try loadTable() else { return nil }
        guard let data = FileManager.default.contents(atPath: featureRanges), let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("--feature-ranges: \(featureRanges): no such file, not readable or not UTF-8")
        }
        do throws(FeatureRangesError) {
            return try FeatureRanges(parsing: text).standardization(for: table.featureNames)
        } catch {
            throw ValidationError("--feature-ranges: \(featureRanges): \(error)")
        }
    }

    /// Refuses differential privacy on a table scaled by its clients' statistics: those are
    /// un-noised sums over the clients' rows, and every version would carry what is made of
    /// them outside the accountant's ε (docs/privacy.md).
    /// - Throws: `ValidationError` saying what to give instead.
    /// - Parameter option: the flag that turned it on (`--dp-clip`, or `--ldp-clip`: a client
    ///   under local DP would send its statistics in the clear beside its noised updates).
    public func checkPrivacy(enabled: Bool, option: String = "--dp-clip") throws {
        guard enabled, dataset != nil, featureRanges == nil else { return }
        throw ValidationError(
            "\(option) on a --dataset table needs --feature-ranges FILE: a standardisation made of the clients' statistics is released in every version without noise (docs/privacy.md)")
    }

    /// Checks a `column:NAME` partition against the whole table before anything runs, so a
    /// missing column, the label column or a --clients that is not the number of values is
    /// one line at the start, not an error after connecting (other schemes: nothing to check).
    /// - Throws: `ValidationError` naming `--partition`.
    public func check(partition: PartitionScheme, clients: Int) throws {
        guard case .column(let name) = partition else { return }
        guard let table = try loadTable() else { throw ValidationError("--partition: \(PartitionError.columnWithoutTable(name))") }
        do throws(PartitionError) {
            _ = try Partition(scheme: partition, data: table.dataset, columns: table.columns, clientCount: clients, seed: 0)
        } catch { throw ValidationError("--partition: \(error)") }
    }

    private func loadTable() throws -> CSVTable? {
        guard let table else { return nil }
        do { return try CSVTable.load(path: table.path, label: table.label) } catch { throw ValidationError("--dataset: \(error)") }
    }
}
