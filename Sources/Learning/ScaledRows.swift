import FedCore

/// Rows scaled with a model's standardisation, kept while versions carry the same one.
///
/// A table federation's coordinator freezes the standardisation once its statistics
/// quorum is in, so a client's shard and an evaluator's test rows are scaled once per run
/// rather than once per version. Every role scales with the model's numbers, never its own.
public struct ScaledRows: Sendable {
    private var cached: (standardization: Standardization, rows: Dataset)?

    public init() {}

    /// `rows()` scaled with `standardization`; `rows` is only called when the
    /// standardisation differs from the last one.
    public mutating func rows(for standardization: Standardization, of rows: () -> Dataset) -> Dataset {
        if let cached, cached.standardization == standardization { return cached.rows }
        let scaled = standardization.apply(to: rows())
        cached = (standardization, scaled)
        return scaled
    }
}
