/// Why an update was settled without being applied: the one list of reasons, with one
/// wire byte (a partial's settled entries) and one name, the same in `fedq.dead`'s
/// `x-fedq-reason` header, `updates.csv`, `summary.json`'s `rejected_by_reason` and the
/// `fedq_updates_rejected_total{reason=…}` metric.
///
/// Finer detail (which check of the decoder failed, e.g. `checksum-mismatch`) travels
/// beside it, in `x-fedq-detail` and the logs, never as a second spelling of the reason.
/// Adding a reason is adding a case here; every switch over it is then checked by the compiler.
public enum RejectionReason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Staler than the strategy allows. Counted as "dropped stale", apart from rejections.
    case stale = 1
    /// Bytes that are not a valid update (bad magic, checksum, lengths, codec...).
    case malformed = 2
    /// Another model's update (spec hash or parameter count differs).
    case wrongModel = 3
    /// NaN or infinity in the update.
    case nonFinite = 4
    /// Over the configured norm or size bound.
    case outOfBounds = 5
    /// The same update id again: a client published twice, or a replay.
    case duplicate = 6
    /// Synchronous FedAvg: trained on another round's model.
    case wrongRound = 7
    /// Differential privacy: applying the aggregate would spend more than `--dp-target-epsilon`.
    case privacyBudget = 8
    /// Not proven to come from an admitted client: no credential or signature, a credential
    /// the issuer did not sign or that expired, a signature that does not verify, or an
    /// envelope claiming another client than its credential (docs/signing.md). Booked under
    /// the digest of its bytes, never under the id it claims.
    case unauthenticated = 9
    /// More updates from one client in one model version than `--max-client-rate` lets
    /// through (a Sybil-style flood under fresh ids). Booked, not lost: the client's next
    /// update, on a newer version, is taken.
    case rateLimited = 10
    /// A proven client's update read from another shard of the updates path than its own
    /// (`UpdateShards`: slot `clientID mod 64`): only a replay, or a client publishing under
    /// another routing key, puts it there. Refused so that each client's updates, replays
    /// included, reach only its shard's readers (on a stream path: one worker, which catches
    /// the replay before it is summed). Booked under the digest of its bytes.
    case misrouted = 11

    /// The reason's one spelling, kebab-case like RabbitMQ's own reasons.
    public var name: String {
        switch self {
        case .stale: "stale"
        case .malformed: "malformed"
        case .wrongModel: "wrong-model"
        case .nonFinite: "non-finite"
        case .outOfBounds: "out-of-bounds"
        case .duplicate: "duplicate"
        case .wrongRound: "wrong-round"
        case .privacyBudget: "privacy-budget"
        case .unauthenticated: "unauthenticated"
        case .rateLimited: "rate-limited"
        case .misrouted: "misrouted"
        }
    }

    /// The reason spelled `name`; nil for anything else.
    public init?(name: some StringProtocol) {
        guard let reason = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = reason
    }

    /// False for `stale`: a stale update is dropped, not refused, and counted apart.
    public var isRejection: Bool { self != .stale }

    public var description: String { name }
}

extension RejectionReason: Codable, CodingKeyRepresentable {
    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let reason = RejectionReason(name: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown reason \(name)"))
        }
        self = reason
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }

    public var codingKey: any CodingKey { NameKey(stringValue: name) }

    public init?<T: CodingKey>(codingKey: T) { self.init(name: codingKey.stringValue) }

    private struct NameKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
