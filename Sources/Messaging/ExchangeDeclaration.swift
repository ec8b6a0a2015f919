import FedCore

/// An AMQP exchange: where publishers send messages and bindings route them to queues.
public struct ExchangeDeclaration: Sendable, Hashable {
    /// The routing rules the pipeline uses.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// To every queue bound with exactly the message's routing key.
        case direct
        /// To every bound queue, ignoring the key: how model versions reach all clients.
        case fanout
    }

    public var name: String
    public var kind: Kind
    /// Survives a broker restart.
    public var durable: Bool
    /// Deleted when its last binding is removed.
    public var autoDelete: Bool

    public init(name: String, kind: Kind, durable: Bool = true, autoDelete: Bool = false) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.autoDelete = autoDelete
    }
}
