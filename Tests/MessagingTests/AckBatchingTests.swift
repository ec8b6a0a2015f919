import RabbitMQTransport
import Testing

/// `fedq bench amqp --ack-every N --ack-delay-ms D`: which deliveries close a batch, and
/// which settings are refused before a broker is touched.
struct AckBatchingTests {
    @Test func everyNthDeliveryAndTheLastCloseABatch() throws {
        let acks = try AckBatching(every: 64, delayMs: 40, prefetch: 256)
        let closing = (1...200).filter { acks.closesBatch($0, of: 200) }
        #expect(closing == [64, 128, 192, 200])
        #expect(!acks.acksEachAtOnce)
        #expect(acks.description == "64 at a time, 40 ms after the last")
    }

    @Test func theDefaultAcksEachDeliveryAtOnce() throws {
        #expect(AckBatching.eachAtOnce.acksEachAtOnce)
        #expect((1...5).allSatisfy { AckBatching.eachAtOnce.closesBatch($0, of: 5) })
        // One at a time but later is a batching of its own: acked with a delay.
        #expect(!(try AckBatching(every: 1, delayMs: 100, prefetch: 64)).acksEachAtOnce)
    }

    @Test func aBatchLargerThanThePrefetchOrANegativeDelayIsRefused() {
        #expect(throws: AckBatchingError.batchOverPrefetch(every: 65, prefetch: 64)) {
            try AckBatching(every: 65, delayMs: 0, prefetch: 64)
        }
        #expect(throws: AckBatchingError.batchOverPrefetch(every: 0, prefetch: 64)) {
            try AckBatching(every: 0, delayMs: 0, prefetch: 64)
        }
        #expect(throws: AckBatchingError.negativeDelay(-1)) { try AckBatching(every: 8, delayMs: -1, prefetch: 64) }
        #expect(AckBatchingError.batchOverPrefetch(every: 65, prefetch: 64).description == "--ack-every must be in 1...--prefetch (64), got 65")
    }
}
