import AMQP
import FedCore
import Foundation
import Messaging
import RabbitMQTransport
import TestSupport
import Testing

@testable import Roles

/// The shipped identities (`topology/identities.json`) on a real RabbitMQ: every hostile
/// action a client's credentials could take against the pipeline is refused by the broker
/// (403 ACCESS_REFUSED), and so is everything outside each other role's job; what each
/// role needs still works.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct LeastPrivilegeTests {
    static func connect(_ user: TestIdentities.User) async throws -> any Transport {
        try await TransportFactory.connector(for: try await TestIdentities.url(as: user), connectionName: "fedq test \(user.rawValue)")
            .connect()
    }

    static func isRefused(_ error: any Error) -> Bool {
        if case .accessRefused = error as? TransportError { return true }
        return false
    }

    /// The topology in place and empty, as an administrator applies it.
    static func applyTopology() async throws {
        let admin = try await connect(.admin)
        try await PipelineTopology.declare(on: admin)
        try await PipelineTopology.purge(on: admin)
        await admin.close()
    }

    @Test func aClientMayNotReadForgeOrReshapeAnything() async throws {
        try await Self.applyTopology()
        let client = try await Self.connect(.client)
        defer { Task { await client.close() } }
        let garbage = Array("not a model".utf8)

        // Copy every other client's updates: bind a private queue to the updates exchange.
        let mine = try await client.declareQueue(QueueDeclaration(name: "", durable: false, exclusive: true, autoDelete: true)).name
        await #expect { try await client.bindQueue(mine, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey) } throws: { Self.isRefused($0) }
        // ... or to the version announcements, or bind the updates queue to the model feed.
        await #expect { try await client.bindQueue(mine, exchange: PipelineTopology.versionsExchange, routingKey: "") } throws: { Self.isRefused($0) }
        await #expect { try await client.bindQueue(PipelineTopology.updatesQueue, exchange: PipelineTopology.modelsExchange, routingKey: "") } throws: { Self.isRefused($0) }
        // Take (and drop) updates, or another role's work; read the other clients' statistics.
        for queue in [
            PipelineTopology.updatesQueue, PipelineTopology.partialsQueue, PipelineTopology.deadQueue, PipelineTopology.modelRequestsQueue,
            PipelineTopology.statisticsQueue,
        ] {
            await #expect("consume \(queue)") { try await client.consume(queue: queue, prefetch: 1) } throws: { Self.isRefused($0) }
            await #expect("purge \(queue)") { try await client.purgeQueue(queue) } throws: { Self.isRefused($0) }
            await #expect("delete \(queue)") { try await client.deleteQueue(queue) } throws: { Self.isRefused($0) }
        }
        // Forge a partial, a model version (well-formed or garbage), a version announcement, a dead letter.
        for exchange in [PipelineTopology.partialsExchange, PipelineTopology.modelsExchange, PipelineTopology.versionsExchange, PipelineTopology.deadExchange] {
            await #expect("publish to \(exchange)") { try await client.publish(garbage, exchange: exchange, routingKey: PipelineTopology.partialsRoutingKey) } throws: { Self.isRefused($0) }
        }
        // Publish into any queue by name through the default exchange (a forged partial).
        await #expect { try await client.publish(garbage, exchange: "", routingKey: PipelineTopology.partialsQueue) } throws: { Self.isRefused($0) }
        // Declare queues or exchanges of its own (a named one; server-named ones are its model subscription).
        await #expect { try await client.declareQueue(QueueDeclaration(name: "hostile")) } throws: { Self.isRefused($0) }
        await #expect { try await client.declareExchange(ExchangeDeclaration(name: "hostile", kind: .fanout)) } throws: { Self.isRefused($0) }
        // Squat a shard of a stream updates path, which only a worker may claim.
        await #expect { try await ShardClaim.take(shard: 0, on: client) } throws: { Self.isRefused($0) }
        // Delete an exchange (the coordinator's version feed).
        let raw = try await AMQPConnection(configuration: AMQPConfiguration(url: try await TestIdentities.url(as: .client)))
        await #expect { try await raw.openChannel().deleteExchange(PipelineTopology.versionsExchange) } throws: {
            ($0 as? AMQPError)?.code == .accessRefused
        }
        await raw.close()

        // What a client is for still works: publish an update, follow the models, ask for the current one.
        try await client.publish(garbage, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey,
                                 properties: MessageProperties(), mandatory: true)
        let models = try await PipelineTopology.subscribeToModels(on: client, requestCurrent: true)
        await models.cancel()
        let admin = try await Self.connect(.admin)
        #expect(try await admin.purgeQueue(PipelineTopology.updatesQueue) == 1)
        try await admin.purgeQueue(PipelineTopology.modelRequestsQueue)
        await admin.close()
    }

    @Test func eachRoleMayDoItsJobAndNothingElse() async throws {
        try await Self.applyTopology()
        let body: [UInt8] = [1, 2, 3]
        let worker = try await Self.connect(.worker)
        for exchange in [PipelineTopology.modelsExchange, PipelineTopology.versionsExchange, PipelineTopology.updatesExchange] {
            await #expect("worker publishes to \(exchange)") { try await worker.publish(body, exchange: exchange, routingKey: "") } throws: { Self.isRefused($0) }
        }
        await #expect { try await worker.consume(queue: PipelineTopology.partialsQueue, prefetch: 1) } throws: { Self.isRefused($0) }
        // (RabbitMQ grants queue.purge with read permission, so a worker could empty the
        // queue it consumes: it can drop those updates anyway. docs/security.md says so.)
        let updates = try await worker.consume(queue: PipelineTopology.updatesQueue, prefetch: 1)
        let versions = try await PipelineTopology.subscribeToVersions(on: worker)
        try await worker.publish([], exchange: PipelineTopology.partialsExchange, routingKey: "nowhere")
        #expect(try await ShardClaim.take(shard: 0, on: worker)?.shard == 0)
        await updates.cancel()
        await versions.cancel()
        await worker.close()

        let eval = try await Self.connect(.eval)
        await #expect { try await eval.publish(body, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey) } throws: { Self.isRefused($0) }
        let models = try await PipelineTopology.subscribeToModels(on: eval, requestCurrent: true)
        await models.cancel()
        await eval.close()

        let coordinator = try await Self.connect(.coordinator)
        await #expect { try await coordinator.consume(queue: PipelineTopology.updatesQueue, prefetch: 1) } throws: { Self.isRefused($0) }
        await #expect { try await coordinator.publish(body, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey) } throws: { Self.isRefused($0) }
        await #expect { try await coordinator.declareQueue(QueueDeclaration(name: "", durable: false, exclusive: true)) } throws: { Self.isRefused($0) }
        let partials = try await coordinator.consume(queue: PipelineTopology.partialsQueue, prefetch: 1)
        let requests = try await coordinator.consume(queue: PipelineTopology.modelRequestsQueue, prefetch: 1)
        try await coordinator.publish([], exchange: PipelineTopology.versionsExchange, routingKey: "")
        await partials.cancel()
        await requests.cancel()
        await coordinator.close()

        let admin = try await Self.connect(.admin)
        try await admin.purgeQueue(PipelineTopology.modelRequestsQueue)
        await admin.close()
    }

    /// A role with least privilege finds the topology missing: it may not declare it, so
    /// it waits (with backoff, never exiting) until an administrator applies it.
    @Test func aLeastPrivilegeRoleWaitsForMissingTopologyInsteadOfCreatingIt() async throws {
        try await Self.applyTopology()
        let admin = try await Self.connect(.admin)
        try await admin.deleteQueue(PipelineTopology.deadQueue)
        let worker = try await Self.connect(.worker)
        await #expect(throws: TransportError.notFound(
            "queue '\(PipelineTopology.deadQueue)' is missing and this identity may not declare it: an administrator restores it with `fedq topology apply`"
        )) { try await PipelineTopology.ensure(on: worker) }
        await worker.close()
        // An identity that may configure re-creates it.
        try await PipelineTopology.ensure(on: admin)
        #expect(try await admin.queueStatus(PipelineTopology.deadQueue).messageCount == 0)
        await admin.close()
    }
}
