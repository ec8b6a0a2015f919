import FedCore
import Messaging
import Testing

typealias DeliveryIterator = Consumer.Iterator

/// The next delivery, failing the test if the consumer ended instead.
func nextDelivery(_ iterator: inout DeliveryIterator, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Delivery {
    try #require(try await iterator.next(), "consumer ended", sourceLocation: sourceLocation)
}

/// Polls `condition` until it holds or five seconds pass (cancellation callbacks run on
/// another thread than the test's).
func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
    for _ in 0..<5_000 {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(1))
    }
    return false
}

/// A broker with a dead-letter fanout `dead` → queue `dead`, and a direct exchange
/// `updates` → queue `updates` (routing key `u`) that dead-letters into it.
func brokerWithDeadLetters(updateArguments: QueueArguments = QueueArguments()) async throws -> EmbeddedBroker {
    let broker = EmbeddedBroker()
    try await broker.declareExchange(ExchangeDeclaration(name: "dead", kind: .fanout))
    try await broker.declareQueue(QueueDeclaration(name: "dead"))
    try await broker.bindQueue("dead", exchange: "dead", routingKey: "")
    var arguments = updateArguments
    arguments.deadLetterExchange = "dead"
    try await broker.declareExchange(ExchangeDeclaration(name: "updates", kind: .direct))
    try await broker.declareQueue(QueueDeclaration(name: "updates", arguments: arguments))
    try await broker.bindQueue("updates", exchange: "updates", routingKey: "u")
    return broker
}

func message(_ id: String, headers: [String: HeaderValue] = [:]) -> MessageProperties {
    MessageProperties(messageID: id, headers: headers)
}
