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
