extension AggregationStrategy.Kind {
    /// Parses `fedasync[:ALPHA]` (0 < α ≤ 1), `fedbuff[:K]` (K ≥ 1) or `fedavg[:M]` (M ≥ 1);
    /// a missing parameter takes its default (`defaultFedAsyncMixing`, `defaultFedBuffSize`,
    /// `defaultFedAvgClients`).
    /// - Throws: `SpecError` naming the spec and what was expected.
    public init(parsing text: String) throws(SpecError) {
        let spec = try Spec(text)
        let count: (Int, Double) -> Bool = { _, v in v >= 1 && v == v.rounded() && v < 1e9 }
        switch spec.name {
        case "fedasync":
            let alpha = spec.parameters.isEmpty ? [Double(Self.defaultFedAsyncMixing)]
                : try spec.parameters(1, usage: "'fedasync:ALPHA' with 0 < ALPHA ≤ 1") { _, v in v > 0 && v <= 1 }
            self = .fedAsync(mixing: Float(alpha[0]))
        case "fedbuff":
            let k = spec.parameters.isEmpty ? [Double(Self.defaultFedBuffSize)] : try spec.parameters(1, usage: "'fedbuff:K' with integer K ≥ 1", where: count)
            self = .fedBuff(bufferSize: Int(k[0]))
        case "fedavg":
            let m = spec.parameters.isEmpty ? [Double(Self.defaultFedAvgClients)] : try spec.parameters(1, usage: "'fedavg:M' with integer M ≥ 1", where: count)
            self = .fedAvg(clientsPerRound: Int(m[0]))
        default:
            throw .unknownName(spec: text, known: ["fedasync[:ALPHA]", "fedbuff[:K]", "fedavg[:M]"])
        }
    }
}
