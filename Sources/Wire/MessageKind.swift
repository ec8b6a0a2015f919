/// The three messages FedQueue sends: what a client trained, what a worker summed, what the
/// coordinator published.
public enum MessageKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A client's model delta (its parameters after local training minus the base version's).
    case clientUpdate = 1
    /// An aggregator worker's weighted sum of deltas, with the update ids inside.
    case partialAggregate = 2
    /// A global model version: its number and the full parameter vector.
    case modelVersion = 3

    /// The AMQP content type operators see in the management UI and route on.
    public var contentType: String {
        switch self {
        case .clientUpdate: "application/x-fedq-update"
        case .partialAggregate: "application/x-fedq-partial"
        case .modelVersion: "application/x-fedq-model"
        }
    }

    public var description: String {
        switch self {
        case .clientUpdate: "client update"
        case .partialAggregate: "partial aggregate"
        case .modelVersion: "model version"
        }
    }
}
