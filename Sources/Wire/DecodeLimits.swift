/// Upper bounds a decoder enforces before allocating anything, so a hostile header cannot make
/// a worker allocate gigabytes.
public struct DecodeLimits: Hashable, Sendable {
    /// Largest parameter vector accepted.
    public var maxParameterCount: Int
    /// Largest whole message accepted, and largest inflated payload.
    public var maxMessageBytes: Int
    /// Most update ids a partial aggregate may list (added and settled together). 65,536 by
    /// default: a worker's partial holds at most the deliveries it holds unacknowledged,
    /// and AMQP's prefetch is a 16-bit count, so no honest partial comes near it; a partial
    /// claiming 2^20 entries once took a coordinator 21 s and booked a million fake ids.
    public var maxPartialEntries: Int

    public init(maxParameterCount: Int = 64 << 20, maxMessageBytes: Int = 512 << 20, maxPartialEntries: Int = 1 << 16) {
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
    /// The model's input width, which a model version's standardisation must have (nil:
    /// not checked).
    public var featureCount: Int?
    public init(specHash: UInt64, parameterCount: Int, featureCount: Int? = nil) {
        self.specHash = specHash
        self.parameterCount = parameterCount
        self.featureCount = featureCount
    }
}
