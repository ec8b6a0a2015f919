import FedCore

/// Why a transport operation failed, with AMQP's reply code where there is one so a
/// RabbitMQ implementation maps the broker's errors onto the same cases.
public enum TransportError: Error, Equatable, CustomStringConvertible {
    /// 404 NOT_FOUND: a missing exchange or queue.
    case notFound(String)
    /// 406 PRECONDITION_FAILED: e.g. redeclaring with other arguments.
    case preconditionFailed(String)
    /// 403 ACCESS_REFUSED: e.g. a second consumer on an exclusively consumed queue.
    case accessRefused(String)
    /// 405 RESOURCE_LOCKED: another connection's exclusive queue.
    case resourceLocked(String)
    /// 312 NO_ROUTE: a mandatory message no queue took.
    case unroutable(exchange: String, routingKey: String)
    /// The broker nacked the publish (a full `reject-publish` queue).
    case publishRejected(queue: String)
    /// Settling a delivery that was already settled or whose consumer is gone.
    case unknownDeliveryTag(UInt64)
    /// The broker cancelled a consumer (its queue was deleted, or its node failed over):
    /// the queue may come back, and a new subscription is what picks it up again.
    case consumerCancelled(queue: String)
    /// The transport was closed.
    case closed
    /// The connection failed (socket error, missed heartbeats, forced close).
    case connectionLost(String)
    /// No connection could be opened (unreachable broker, TLS or handshake failure).
    case connectionFailed(String)
    /// Any other broker error, with its AMQP reply code and text.
    case broker(replyCode: UInt16, replyText: String)

    /// A failure a new connection can cure: the session should reconnect, not give up.
    public var isConnectionLoss: Bool {
        switch self {
        case .connectionLost, .connectionFailed, .closed: true
        default: false
        }
    }

    /// A failure a new session can cure, so a role restarts its session instead of exiting:
    /// a lost connection, a consumer the broker cancelled, or a missing exchange or queue
    /// (deleted by an operator; the new session declares it again, or waits for an
    /// administrator to, when the role may not), or a mandatory message no queue took (its
    /// queue was deleted: the broker returned it, so sending it again later is safe), or a
    /// publish the broker nacked (a full `reject-publish` queue, or a quorum queue between
    /// leaders while a node fails: it did not take the message, so it goes again). A
    /// refusal (403) or an inequivalent
    /// declaration (406) is a configuration error no retry fixes.
    public var isRecoverable: Bool {
        switch self {
        case .consumerCancelled, .notFound, .unroutable, .publishRejected: true
        default: isConnectionLoss
        }
    }

    public var description: String {
        switch self {
        case .notFound(let what): "NOT_FOUND (404): \(what)"
        case .preconditionFailed(let what): "PRECONDITION_FAILED (406): \(what)"
        case .accessRefused(let what): "ACCESS_REFUSED (403): \(what)"
        case .resourceLocked(let what): "RESOURCE_LOCKED (405): \(what)"
        case .unroutable(let exchange, let key): "NO_ROUTE (312): no queue for '\(key)' on exchange '\(exchange)'"
        case .publishRejected(let queue): "publish nacked: queue '\(queue)' is full (reject-publish)"
        case .unknownDeliveryTag(let tag): "PRECONDITION_FAILED (406): unknown delivery tag \(tag)"
        case .consumerCancelled(let queue): "the broker cancelled the consumer of '\(queue)' (queue deleted or moved)"
        case .closed: "the transport is closed"
        case .connectionLost(let why): "connection lost: \(why)"
        case .connectionFailed(let why): "cannot connect: \(why)"
        case .broker(let code, let text): "broker error \(code): \(text)"
        }
    }
}
