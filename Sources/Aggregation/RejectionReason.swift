/// Why an update (or a whole partial) was not applied. An open set of named reasons,
/// like RabbitMQ's reply codes: other modules add their own (`RejectionReason("x")`)
/// and everyone matches on the static members without a shared enum to edit.
public struct RejectionReason: RawRepresentable, Hashable, Sendable, Codable, CodingKeyRepresentable,
    CustomStringConvertible, ExpressibleByStringLiteral
{
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The bytes could not be decoded as an update.
    public static let malformed: RejectionReason = "malformed"
    /// The update is for another model (architecture or spec hash differs).
    public static let wrongModel: RejectionReason = "wrong-model"
    /// The update carries NaN or infinity.
    public static let nonFinite: RejectionReason = "non-finite"
    /// The update exceeds the configured norm or size bound.
    public static let outOfBounds: RejectionReason = "out-of-bounds"
    /// The update (or partial) was already applied: a redelivery.
    public static let duplicate: RejectionReason = "duplicate"
    /// Synchronous FedAvg only takes updates trained on the current round's model.
    public static let wrongRound: RejectionReason = "wrong-round"

    public var description: String { rawValue }

    public var codingKey: any CodingKey { AnyKey(stringValue: rawValue) }

    public init?<T: CodingKey>(codingKey: T) { self.rawValue = codingKey.stringValue }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
