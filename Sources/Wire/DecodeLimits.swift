/// Upper bounds a decoder enforces before allocating anything, so a hostile header cannot make
/// a worker allocate gigabytes.
public struct DecodeLimits: Hashable, Sendable {
    /// Largest parameter vector accepted.
    public var maxParameterCount: Int
    /// Largest whole message accepted, and largest inflated payload.
    public var maxMessageBytes: Int
    /// Most update ids a partial aggregate may list.
    public var maxPartialEntries: Int

    public init(maxParameterCount: Int = 64 << 20, maxMessageBytes: Int = 512 << 20, maxPartialEntries: Int = 1 << 20) {
        self.maxParameterCount = maxParameterCount
        self.maxMessageBytes = maxMessageBytes
        self.maxPartialEntries = maxPartialEntries
    }

    public static let `default` = DecodeLimits()
}

/// The model a receiver expects messages for; mismatches are rejected with typed errors.
public struct ModelExpectation: Hashable, Sendable {
    public var specHash: UInt64
    public var parameterCount: Int
    public init(specHash: UInt64, parameterCount: Int) {
        self.specHash = specHash
        self.parameterCount = parameterCount
    }
}
