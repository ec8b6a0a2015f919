import Foundation
import Messaging
import TestSupport
import Testing

@testable import FedqBench
@testable import FedqCLI

/// `fedq bench amqp` on the test node: every queue type moves every message through the
/// wrapper and through the C loop, and leaves no queue behind. Rates are for the benchmark
/// to print; here only their being measured (positive) and the counts are asserted.
@Suite(.exclusiveBroker, .timeLimit(.minutes(3)))
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
}
