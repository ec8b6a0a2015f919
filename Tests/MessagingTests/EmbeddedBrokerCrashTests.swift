import FedCore
import Messaging
import Synchronization
import Testing

/// How often each message id was acked, shared by the worker tasks.
final class AckLedger: Sendable {
    let counts = Mutex<[String: Int]>([:])

    /// Records an ack; returns how many distinct ids have been acked.
    func record(_ id: String) -> Int {
        counts.withLock { counts in
            counts[id, default: 0] += 1
            return counts.count
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct EmbeddedBrokerCrashTests {
    /// Workers on their own connections take random prefetches, ack some deliveries and
    /// then either leave cleanly or "crash" (close the connection holding unacked ones),
    /// and come back. Every message must end up acked exactly once: nothing lost, nothing
    /// handed out twice while still held.
    @Test(arguments: [2, 4, 8])
    func crashingWorkersLoseNothingAndDuplicateNothing(workers: Int) async throws {
        let broker = try await brokerWithDeadLetters()
        let total = 2_000
        let ledger = AckLedger()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for number in 0..<total {
                    try await broker.publish([UInt8(number % 256)], exchange: "updates", routingKey: "u", properties: message("m\(number)"))
                }
            }
            for _ in 0..<workers {
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    while true {
                        let connection = broker.connect()
                        guard let consumer = try? await connection.consume(queue: "updates", prefetch: .random(in: 1...8, using: &generator))
                        else { return }  // the broker closed: all done
                        var iterator = consumer.makeAsyncIterator()
                        let crashes = Bool.random(using: &generator)
                        for _ in 0..<Int.random(in: 1...40, using: &generator) {
                            guard let delivery = try await iterator.next() else { return }
                            if crashes && Int.random(in: 0..<4, using: &generator) == 0 { break }  // held, never acked
                            do { try await delivery.ack() } catch { return }  // closed after the last ack
                            if ledger.record(delivery.properties.messageID ?? "") == total { await broker.close() }
                        }
                        await connection.close()
                    }
                }
            }
            try await group.waitForAll()
        }
        let counts = ledger.counts.withLock { $0 }
        #expect(counts.count == total)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    /// Readers whose tasks are cancelled while publishes keep handing them deliveries.
    /// Cancelling a task ends its stream from inside the runtime's cancellation, while a
    /// publish may be handing that very stream a delivery under the broker's lock; the two
    /// once deadlocked (a stream worker cancelling its readers in `StreamPathTests`). Every
    /// message must still be acked exactly once: what a cancelled reader was handed goes back.
    /// (Without the fix, `--repetitions 300` of this test hung within 40 here; with it, all
    /// 300 passed in 7.5 s. A single run may go through few readers: the race is timing.)
    @Test func readersCancelledMidDeliveryNeitherHangNorLoseMessages() async throws {
        let broker = try await brokerWithDeadLetters()
        let total = 3_000
        let ledger = AckLedger()
        let publisher = Task {
            for number in 0..<total {
                try await broker.publish([UInt8(number % 256)], exchange: "updates", routingKey: "u", properties: message("m\(number)"))
            }
        }
        var rounds = 0
        while ledger.counts.withLock({ $0.count }) < total, rounds < 20_000 {
            rounds += 1
            let reader = Task {
                for try await delivery in try await broker.consume(queue: "updates", prefetch: 4) {
                    try await delivery.ack()
                    _ = ledger.record(delivery.properties.messageID ?? "")
                }
            }
            await Task.yield()
            reader.cancel()
            _ = await reader.result
        }
        try await publisher.value
        // The last rounds' cancels may still be putting deliveries back: read what is left.
        let drain = try await broker.consume(queue: "updates", prefetch: 64)
        var iterator = drain.makeAsyncIterator()
        while ledger.counts.withLock({ $0.count }) < total {
            let delivery = try await nextDelivery(&iterator)
            try await delivery.ack()
            _ = ledger.record(delivery.properties.messageID ?? "")
        }
        await drain.cancel()
        let counts = ledger.counts.withLock { $0 }
        #expect(counts.count == total, "\(counts.count) of \(total) acked after \(rounds) readers")
        #expect(counts.values.allSatisfy { $0 == 1 })
    }
}
