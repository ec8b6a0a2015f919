/// The model the coordinator publishes: parameters, version, how many client updates it
/// contains (so "updates to target" can be read off any version) and, in a private run,
/// the differential-privacy ε spent to release it.
public struct GlobalModel: Sendable {
    public var version: ModelVersion
    public var parameters: [Float]
    public var updatesApplied: Int
    /// The ε (at the run's δ) that every version up to this one spent together; nil when the
    /// run is not differentially private.
    public var privacyEpsilon: Double?

    public init(version: ModelVersion, parameters: [Float], updatesApplied: Int, privacyEpsilon: Double? = nil) {
        self.version = version
        self.parameters = parameters
        self.updatesApplied = updatesApplied
        self.privacyEpsilon = privacyEpsilon
    }
}
