import AMQP
import Foundation
import Messaging
@testable import RabbitMQTransport
import Roles
import TestSupport
import Testing

/// What only RabbitMQ has: logins, unreachable nodes, and the deployable definitions file.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct RabbitMQDeploymentTests {
    static func configuration() throws -> AMQPConfiguration {
        try TransportFactory.configuration(for: TestBrokerNode.url(), connectionName: "fedq-tests")
    }

    @Test func wrongPasswordAndUnreachableBrokerAreTypedErrors() async throws {
        let good = try Self.configuration()
        var wrongPassword = good
        wrongPassword.password = "wrong-\(UUID().uuidString)"
        var unreachable = good
        unreachable.port = 1
        let refused = await Self.connectionError(wrongPassword)
        let failed = await Self.connectionError(unreachable)
        #expect(refused?.description.contains("Login was refused") == true, "\(String(describing: refused))")
        #expect(refused.map { if case .accessRefused = $0 { true } else { false } } == true)
        #expect(failed.map { if case .connectionFailed = $0 { true } else { false } } == true, "\(String(describing: failed))")
    }

    /// The error connecting with `configuration` throws, or nil if it connected.
    static func connectionError(_ configuration: AMQPConfiguration) async -> TransportError? {
        do {
            await (try await AMQPTransport(configuration: configuration)).close()
            return nil
        } catch {
            return error
        }
    }

    /// `fedq simulate` declares the pipeline's topology itself; it must be the one
    /// `fedq topology apply` deploys, whichever came first, or RabbitMQ answers 406.
    @Test func pipelineTopologyIsTheDeployableDefinitions() async throws {
        let definitions = try AMQPTopology(definitionsAt: packageRoot + "/topology/definitions.json")
        let connection = try await AMQPConnection(configuration: Self.configuration())
        let transport = try await TestBroker.connect()
        for queue in [PipelineTopology.updatesQueue, PipelineTopology.partialsQueue, PipelineTopology.deadQueue, PipelineTopology.modelRequestsQueue] {
            try await connection.openChannel().deleteQueue(queue)
        }
        try await PipelineTopology.declare(on: transport)
        #expect(try await connection.check(definitions) == [])
        try await connection.declare(definitions)
        try await PipelineTopology.declare(on: transport)
        await transport.close()
        await connection.close()
    }
}
