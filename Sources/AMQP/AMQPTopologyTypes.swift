/// An exchange as declared on the broker.
public struct AMQPExchange: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case direct, fanout, topic, headers
    }

    public var name: String
    public var type: Kind
    public var durable: Bool
    public var autoDelete: Bool
    public var `internal`: Bool
    public var arguments: AMQPTable

    public init(name: String, type: Kind, durable: Bool = true, autoDelete: Bool = false, internal: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.type = type
        self.durable = durable
        self.autoDelete = autoDelete
        self.internal = `internal`
        self.arguments = arguments
    }
}

/// A queue as declared on the broker; `arguments` carry `x-queue-type`,
/// `x-max-length`, `x-overflow`, `x-dead-letter-exchange`,
/// `x-single-active-consumer`, `x-message-ttl`, …
public struct AMQPQueue: Sendable, Equatable {
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    public var arguments: AMQPTable

    public init(name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }
}

/// A queue bound to an exchange.
public struct AMQPBinding: Sendable, Equatable {
    public var exchange: String
    public var queue: String
    public var routingKey: String
    public var arguments: AMQPTable

    public init(exchange: String, queue: String, routingKey: String = "", arguments: AMQPTable = [:]) {
        self.exchange = exchange
        self.queue = queue
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// What `queue.declare-ok` reports.
public struct AMQPQueueStatus: Sendable, Equatable {
    /// The name, useful when the broker generated it (declared with "").
    public var name: String
    public var messageCount: Int
    public var consumerCount: Int
}
