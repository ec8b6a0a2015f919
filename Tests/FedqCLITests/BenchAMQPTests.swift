import Foundation
import Messaging
import TestSupport
import Testing

@testable import FedqBench
@testable import FedqCLI

/// `fedq bench amqp` on the test node: every queue type moves every message through the
/// wrapper and through the C loop, and leaves no queue behind. Rates are for the benchmark
/// to print; here only their being measured (positive) and the counts are asserted.
@Suite(.exclusiveBroker, .serialized, .timeLimit(.minutes(3)))
struct BenchAMQPTests {
    @Test func everyQueueTypeMovesEveryMessageThroughBothClients() async throws {
        let broker = try TestBrokerNode.url()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-bench-amqp-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let command = try #require(
            try Fedq.parseAsRoot([
                "bench", "amqp", "--broker", broker, "--queue-types", "classic,quorum,stream", "--sizes", "2000",
                "--messages", "40", "--rounds", "1", "--json", path,
            ]) as? BenchAMQP)
        try await command.run()

        let rows = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [[String: Any]])
        #expect(rows.compactMap { $0["queue_type"] as? String } == ["classic", "quorum", "stream"])
        for row in rows {
            #expect(row["messages"] as? Int == 40 && row["message_bytes"] as? Int == 2000)
            #expect((row["wrapper_messages_per_second"] as? Double ?? 0) > 0 && (row["c_messages_per_second"] as? Double ?? 0) > 0)
        }
        // A stream keeps its messages until deleted: the benchmark deletes what it declared.
        for type in ["classic", "quorum", "stream"] {
            let connection = try await TestBroker.connect()
            await #expect(throws: TransportError.self) { _ = try await connection.queueStatus("fedq.bench.amqp.\(type)") }
            await connection.close()
        }
    }

    /// Acked as a worker acks a partial (8 at a time, 20 ms after the batch's last delivery),
    /// both clients still move every message, the last batch of 4 included, and the JSON says
    /// how they acked. With `--keep-queues` the quorum queue stays, empty (every ack arrived).
    @Test func batchedDelayedAcksMoveEveryMessageThroughBothClients() async throws {
        let broker = try TestBrokerNode.url()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-bench-amqp-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let command = try #require(
            try Fedq.parseAsRoot([
                "bench", "amqp", "--broker", broker, "--queue-types", "quorum", "--sizes", "2000", "--messages", "44",
                "--prefetch", "16", "--ack-every", "8", "--ack-delay-ms", "20", "--rounds", "1", "--keep-queues", "--json", path,
            ]) as? BenchAMQP)
        try await command.run()

        let rows = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [[String: Any]])
        let row = try #require(rows.first)
        #expect(rows.count == 1 && row["queue_type"] as? String == "quorum" && row["messages"] as? Int == 44)
        let acks = try #require(row["acks"] as? [String: Any])
        #expect(acks["every"] as? Int == 8 && acks["delay_ms"] as? Int == 20)
        #expect((row["wrapper_messages_per_second"] as? Double ?? 0) > 0 && (row["c_messages_per_second"] as? Double ?? 0) > 0)
        let connection = try await TestBroker.connect()
        let left = try await connection.queueStatus("fedq.bench.amqp.quorum")
        #expect(left.messageCount == 0)
        try await connection.deleteQueue("fedq.bench.amqp.quorum")
        await connection.close()
    }
}
