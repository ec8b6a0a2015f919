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
        let queues = PipelineTopology.queues()
        #expect(Set(file.queues.map(\.name)) == Set(queues.map(\.queue.name)))
        for (queue, exchange, keys) in queues {
            #expect(file.queues.first { $0.name == queue.name } == AMQPQueue(queue), "queue \(queue.name)")
            for key in keys { #expect(file.bindings.contains(AMQPBinding(exchange: exchange, queue: queue.name, routingKey: key))) }
        }
        #expect(file.bindings.count == queues.map(\.routingKeys.count).reduce(0, +))
    }

    /// Issue 18: S shards split the 64 slots between them, every slot bound exactly once,
    /// shard 0 keeping the unsharded queue's name and the key older clients publish with.
    @Test(arguments: [1, 2, 3, 5, 64])
    func everySlotIsBoundToExactlyOneShard(_ count: Int) throws {
        let shards = try UpdateShards(count)
        let queues = PipelineTopology.queues(shards: shards).filter { $0.exchange == PipelineTopology.updatesExchange }
        #expect(queues.map(\.queue.name) == shards.queues)
        #expect(shards.queues.first == PipelineTopology.updatesQueue)
        #expect(Set(shards.queues).count == count)
        var owner: [String: String] = [:]
        for (queue, _, keys) in queues {
            for key in keys {
                #expect(owner[key] == nil, "\(key) bound twice")
                owner[key] = queue.name
            }
            #expect(queue.arguments.leaderLocator == "balanced" && queue.arguments.initialGroupSize == 3)
        }
        #expect(owner.count == UpdateShards.slotCount + 1)
        #expect(owner[PipelineTopology.updatesRoutingKey] == PipelineTopology.updatesQueue)
        for client: UInt64 in [0, 1, 2, 63, 64, 65, 1_000, .max] {
            // The key a client publishes with reaches the shard `shard(ofClient:)` names.
            #expect(owner[UpdateShards.routingKey(client: client)] == UpdateShards.queue(shards.shard(ofClient: client)))
        }
        // Slots spread evenly: no shard holds more than one slot over any other.
        let sizes = queues.map { $0.routingKeys.filter { $0 != PipelineTopology.updatesRoutingKey }.count }
        #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1)
    }

    @Test func aShardCountOutsideOneToSixtyFourIsRefused() {
        #expect(throws: UpdateShardsError.outOfRange(0)) { try UpdateShards(0) }
        #expect(throws: UpdateShardsError.outOfRange(65)) { try UpdateShards(65) }
        #expect(UpdateShards.routingKey(client: 130) == "fedq.updates.2")
        #expect(UpdateShards.queue(2) == "fedq.q.updates.2")
    }

    /// No queue shares a name with an exchange (docs/security.md: permissions match names).
    @Test func queuesAndExchangesNeverShareAName() {
        let exchanges = Set(PipelineTopology.exchanges.map(\.name))
        #expect(PipelineTopology.queues(shards: try! UpdateShards(4)).allSatisfy { !exchanges.contains($0.queue.name) })
    }

    @Test func onlyServerNamedQueuesAreSubscriberQueues() {
        #expect(PipelineTopology.isSubscriberQueue("amq.gen-Uux0shYM0uis0duaZNLNPQ"))
        for queue in ["", "amq.gen-", PipelineTopology.updatesQueue, PipelineTopology.partialsQueue, "amq.rabbitmq.reply-to", "fedq.q.dead"] {
            #expect(!PipelineTopology.isSubscriberQueue(queue), "\(queue)")
        }
    }
}
