/// The model the coordinator publishes: parameters, version, how many client updates it
/// contains (so "updates to target" can be read off any version), in a private run the
/// differential-privacy ε spent to release it, and in a table federation the standardisation.
public struct GlobalModel: Sendable {
    public var version: ModelVersion
    public var parameters: [Float]
    public var updatesApplied: Int
    /// The ε (at the run's δ) that every version up to this one spent together; nil when the
    /// run is not differentially private.
    public var privacyEpsilon: Double?
    /// In a table federation, how every role scales its rows for this model: merged from
    /// the clients' statistics and carried inside the signed message; nil otherwise.
    public var standardization: Standardization?
    /// The run's last version: a private run's budget is spent and nothing will be applied
    /// after it (`x-fedq-final`), so a client that trains on it only wastes its compute.
    public var isFinal = false

    public init(
        version: ModelVersion, parameters: [Float], updatesApplied: Int, privacyEpsilon: Double? = nil,
        standardization: Standardization? = nil
    ) {
        self.version = version
        self.parameters = parameters
        self.updatesApplied = updatesApplied
        self.privacyEpsilon = privacyEpsilon
        self.standardization = standardization
    }
}
