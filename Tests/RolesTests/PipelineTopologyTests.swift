import AMQP
import Foundation
import Messaging
import Testing

@testable import Roles
@testable import RabbitMQTransport

/// The topology the roles declare (`PipelineTopology`) and the one an administrator
/// imports (`topology/definitions.json`) are the same, name for name and argument for
/// argument: least-privilege roles only check what the administrator created, so a drift
/// between the two would leave a role waiting for a queue that never comes.
@Suite struct PipelineTopologyTests {
    static let definitions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("topology/definitions.json").path

    @Test func rolesDeclareExactlyWhatTheDefinitionsFileHolds() throws {
        let file = try AMQPTopology(definitionsAt: Self.definitions)
        #expect(Set(file.exchanges.map(\.name)) == Set(PipelineTopology.exchanges.map(\.name)))
        for exchange in PipelineTopology.exchanges {
            #expect(file.exchanges.first { $0.name == exchange.name } == AMQPExchange(exchange), "exchange \(exchange.name)")
        }
        #expect(Set(file.queues.map(\.name)) == Set(PipelineTopology.queues.map(\.queue.name)))
        for (queue, exchange, key) in PipelineTopology.queues {
            #expect(file.queues.first { $0.name == queue.name } == AMQPQueue(queue), "queue \(queue.name)")
            #expect(file.bindings.contains(AMQPBinding(exchange: exchange, queue: queue.name, routingKey: key)))
        }
        #expect(file.bindings.count == PipelineTopology.queues.count)
    }

    /// No queue shares a name with an exchange (docs/security.md: permissions match names).
    @Test func queuesAndExchangesNeverShareAName() {
        let exchanges = Set(PipelineTopology.exchanges.map(\.name))
        #expect(PipelineTopology.queues.allSatisfy { !exchanges.contains($0.queue.name) })
    }

    @Test func onlyServerNamedQueuesAreSubscriberQueues() {
        #expect(PipelineTopology.isSubscriberQueue("amq.gen-Uux0shYM0uis0duaZNLNPQ"))
        for queue in ["", "amq.gen-", PipelineTopology.updatesQueue, PipelineTopology.partialsQueue, "amq.rabbitmq.reply-to", "fedq.q.dead"] {
            #expect(!PipelineTopology.isSubscriberQueue(queue), "\(queue)")
        }
    }
}
