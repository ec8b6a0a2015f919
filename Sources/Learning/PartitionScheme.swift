/// How a dataset is split over clients, parsed from `--partition`.
public enum PartitionScheme: Sendable, Equatable, CustomStringConvertible {
    /// Uniformly shuffled, equal sizes.
    case iid
    /// McMahan et al.'s pathological non-IID split: sort by label, cut into
    /// `shardsPerClient * clients` equal shards, deal each client that many.
    case shards(perClient: Int)
    /// Label skew: each class is split over clients by a Dirichlet(alpha) draw.
    case dirichlet(alpha: Double)
    /// Quantity skew: IID labels, client sizes from a Dirichlet(alpha) draw.
    case quantity(alpha: Double)
    /// A "natural" partition: one client per value of a table's column (a hospital, a
    /// bank branch, a sensor's district), as the data would be held in a deployment.
    /// The number of clients is the number of values (`Partition(scheme:data:columns:...)`).
    case column(String)

    /// Parses `iid`, `shards`, `shards:K`, `dirichlet:ALPHA`, `quantity:ALPHA`, `column:NAME`.
    /// - Throws: `PartitionError.badSpec` for anything else.
    public init(parsing text: String) throws(PartitionError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1] : nil
        switch parts.first {
        case "iid" where argument == nil: self = .iid
        case "shards":
            guard let perClient = argument.map({ Int($0) }) ?? 2, perClient > 0 else {
                throw .badSpec(text, "shards takes a positive shard count per client, e.g. shards:2")
            }
            self = .shards(perClient: perClient)
        case "dirichlet", "quantity":
            guard let alpha = argument.flatMap(Double.init), alpha > 0, alpha.isFinite else {
                throw .badSpec(text, "\(parts[0]) takes a positive concentration, e.g. \(parts[0]):0.5")
            }
            self = parts[0] == "dirichlet" ? .dirichlet(alpha: alpha) : .quantity(alpha: alpha)
        case "column":
            guard let name = argument, !name.isEmpty else {
                throw .badSpec(text, "column takes the name of a table column, e.g. column:hospital")
            }
            self = .column(name)
        default:
            throw .badSpec(text, "expected iid, shards[:K], dirichlet:ALPHA, quantity:ALPHA or column:NAME")
        }
    }

    public var description: String {
        switch self {
        case .iid: "iid"
        case .shards(let k): "shards:\(k)"
        case .dirichlet(let alpha): "dirichlet:\(alpha)"
        case .quantity(let alpha): "quantity:\(alpha)"
        case .column(let name): "column:\(name)"
        }
    }
}

/// Why a partition could not be made.
public enum PartitionError: Error, Equatable, CustomStringConvertible {
    case badSpec(String, String)
    case tooFewSamples(samples: Int, needed: Int, scheme: String)
    case emptyClient(scheme: String, attempts: Int)
    /// `column:NAME` over data without named columns (MNIST).
    case columnWithoutTable(String)
    case columnIsLabel(String)
    case noSuchColumn(String, features: [String])
    /// The column has `values.count` distinct values but `clients` clients were asked for.
    case columnClientCount(String, values: [String], clients: Int)

    public var description: String {
        switch self {
        case .badSpec(let text, let hint): "bad partition '\(text)': \(hint)"
        case .tooFewSamples(let samples, let needed, let scheme): "\(scheme) needs at least \(needed) samples, dataset has \(samples)"
        case .emptyClient(let scheme, let attempts):
            "\(scheme) left a client without samples in \(attempts) draws; use a larger alpha or fewer clients"
        case .columnWithoutTable(let name):
            "column:\(name) splits a --dataset table by one of its columns; MNIST has none"
        case .columnIsLabel(let name):
            "column:\(name) is the label column: one client per class is a label skew (use dirichlet:ALPHA or shards)"
        case .noSuchColumn(let name, let features):
            "column:\(name): no such feature column (columns: \(features.joined(separator: ", ")))"
        case .columnClientCount(let name, let values, let clients):
            "column:\(name) has \(values.count) values (\(values.prefix(8).joined(separator: ", "))\(values.count > 8 ? ", ..." : "")) and one client per value, but --clients is \(clients): run with --clients \(values.count)"
        }
    }
}
