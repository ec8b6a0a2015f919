/// The model the coordinator publishes: parameters, version, and how many
/// client updates it contains (so "updates to target" can be read off any version).
public struct GlobalModel: Sendable {
    public var version: ModelVersion
    public var parameters: [Float]
    public var updatesApplied: Int

    public init(version: ModelVersion, parameters: [Float], updatesApplied: Int) {
        self.version = version
        self.parameters = parameters
        self.updatesApplied = updatesApplied
    }
}
