import FedqBench
import Messaging
import Testing

@Suite(.timeLimit(.minutes(1)))
struct TransportThroughputTests {
    /// The benchmark's harness loses nothing and counts every byte (timing is for
    /// `fedq bench`, never asserted here).
    @Test(arguments: [(1, 1), (3, 2)])
    func movesEveryMessage(publishers: Int, consumers: Int) async throws {
        let broker = EmbeddedBroker()
        let run = TransportThroughput(messages: 301, bodyBytes: 1_000, publishers: publishers, consumers: consumers, prefetch: 4)
        let result = try await run.run(on: broker.connect())
        #expect(result.messagesConsumed == 301)
        #expect(result.bytes == 301_000)
        #expect(result.seconds > 0)
    }
}
