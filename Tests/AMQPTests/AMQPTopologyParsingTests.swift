import Foundation
import Testing

@testable import AMQP

/// `topology/definitions.json` of this repository.
let definitionsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("topology/definitions.json").path

@Suite("Topology from RabbitMQ definitions")
struct AMQPTopologyParsingTests {
    @Test func readsTheRepositoryDefinitions() throws {
        let topology = try AMQPTopology(definitionsAt: definitionsPath)
        #expect(topology.exchanges.map(\.name).sorted() == ["fedq.dead", "fedq.model-requests", "fedq.models", "fedq.partials", "fedq.statistics", "fedq.update-chunks", "fedq.updates", "fedq.versions"])
        #expect(topology.exchanges.first { $0.name == "fedq.models" }?.type == .fanout)
        let updates = try #require(topology.queues.first { $0.name == "fedq.q.updates" })
        #expect(updates.arguments["x-queue-type"] == .string("quorum"))
        #expect(updates.arguments["x-dead-letter-exchange"] == .string("fedq.dead"))
        let partials = try #require(topology.queues.first { $0.name == "fedq.q.partials" })
        #expect(partials.arguments["x-single-active-consumer"] == .bool(true))
        // Chunked updates: one worker at a time takes every chunk (docs/wire-format.md, Chunks).
        let chunks = try #require(topology.queues.first { $0.name == "fedq.q.update-chunks" })
        #expect(chunks.arguments["x-single-active-consumer"] == .bool(true))
        #expect(chunks.arguments["x-dead-letter-exchange"] == .string("fedq.dead"))
        #expect(topology.bindings.contains(AMQPBinding(exchange: "fedq.dead", queue: "fedq.q.dead", routingKey: "")))
    }

    @Test func mapsArgumentTypesAndFiltersVirtualHosts() throws {
        let json = """
            {"exchanges": [{"name": "a", "vhost": "other", "type": "topic", "arguments": {}}],
             "queues": [{"name": "q", "vhost": "/", "durable": true, "auto_delete": false,
                         "arguments": {"x-max-length": 1, "x-overflow": "drop-head", "x-message-ttl": 60000,
                                       "x-single-active-consumer": false, "ratio": 0.5}}],
             "bindings": []}
            """
        let topology = try AMQPTopology(definitionsJSON: Data(json.utf8))
        #expect(topology.exchanges.isEmpty)
        #expect(topology.queues == [AMQPQueue(name: "q", arguments: [
            "x-max-length": .int(1), "x-overflow": .string("drop-head"), "x-message-ttl": .int(60_000),
            "x-single-active-consumer": .bool(false), "ratio": .double(0.5),
        ])])
    }

    @Test(arguments: ["not json", #"{"exchanges": [{"name": "x", "type": "nonsense"}]}"#,
                      #"{"bindings": [{"source": "a", "destination": "b", "destination_type": "exchange"}]}"#])
    func rejectsBadDefinitions(_ json: String) {
        #expect {
            try AMQPTopology(definitionsJSON: Data(json.utf8))
        } throws: { ($0 as? AMQPError)?.code == .invalidDefinitions }
    }
}
