/// `(x − mean) / deviation` per feature: how a table federation scales its rows. The
/// coordinator merges it from the clients' statistics (`FeatureStatistics` in Learning) and
/// ships it inside every model version (Wire's standardisation section, covered by the
/// message's CRC and signature), so clients and the evaluator apply exactly the model's
/// numbers, never their own. One value type for every module: Learning applies it to a
/// dataset, Wire encodes it, the roles carry it in `GlobalModel`.
public struct Standardization: Sendable, Equatable {
    public let means: [Float]
    public let deviations: [Float]

    public init(means: [Float], deviations: [Float]) {
        self.means = means
        self.deviations = deviations
    }

    public var featureCount: Int { means.count }
}
