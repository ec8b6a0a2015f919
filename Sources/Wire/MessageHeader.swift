/// The metadata every message carries in its fixed 88-byte header (see docs/wire-format.md).
public struct MessageHeader: Hashable, Sendable {
    public var kind: MessageKind
    /// Hash of the model architecture (computed by the learning engine): an update for another
    /// architecture is rejected before its payload is touched.
    public var specHash: UInt64
    /// For a client update, the model version it was trained from (staleness = current − this);
    /// for a partial aggregate, the newest base version inside; for a model version, its number.
    public var modelVersion: UInt64
    /// The dedupe key (for partials and model versions: a fresh id of the message itself).
    public var updateID: UpdateID
    public var clientID: UInt64
    /// Training samples behind the update (partials: the sum over the updates inside).
    public var sampleCount: UInt64
    /// Local optimizer steps behind the update (partials: the sum over the updates inside).
    public var localSteps: UInt32
    /// Length of the parameter vector the payload encodes.
    public var parameterCount: Int
    /// How the payload is encoded.
    public var codec: CodecSpec

    public init(
        kind: MessageKind, specHash: UInt64, modelVersion: UInt64, updateID: UpdateID = .random(),
        clientID: UInt64 = 0, sampleCount: UInt64 = 0, localSteps: UInt32 = 0, parameterCount: Int,
        codec: CodecSpec
    ) {
        self.kind = kind
        self.specHash = specHash
        self.modelVersion = modelVersion
        self.updateID = updateID
        self.clientID = clientID
        self.sampleCount = sampleCount
        self.localSteps = localSteps
        self.parameterCount = parameterCount
        self.codec = codec
    }
}

/// What a worker's partial aggregate carries besides the weighted sum itself: what the
/// coordinator needs to merge partials (weight total) and to account for every update exactly once.
public struct PartialAggregateSummary: Hashable, Sendable {
    /// One update folded into the partial.
    public struct Entry: Hashable, Sendable {
        public var updateID: UpdateID
        /// The model version the update was trained from, for staleness accounting.
        public var baseVersion: UInt64
        public init(updateID: UpdateID, baseVersion: UInt64) {
            self.updateID = updateID
            self.baseVersion = baseVersion
        }
    }

    /// Sum of the weights the deltas were multiplied by (the payload is Σ wᵢ·Δᵢ).
    public var weightTotal: Double
    /// The updates inside, in the order they were accumulated.
    public var entries: [Entry]

    public var updateCount: Int { entries.count }

    public init(weightTotal: Double, entries: [Entry]) {
        self.weightTotal = weightTotal
        self.entries = entries
    }
}

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
