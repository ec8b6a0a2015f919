import Foundation

/// A message waiting to be sent (window full) or to be confirmed.
struct OutgoingMessage: Sendable {
    let body: any ContiguousBytes & Sendable
    let exchange: String
    let routingKey: String
    let properties: AMQPProperties
    let mandatory: Bool
    /// Called just before the message is written: false when its caller stopped waiting
    /// first (its task was cancelled), and the message is then never sent. Once it returns
    /// true the caller waits for the confirm, so a publish that reports cancellation was
    /// never sent, and one that was sent is never reported as cancelled.
    var claimForWriting: @Sendable () -> Bool = { true }
}

/// Reports the fate of one publish back to its awaiting caller.
typealias PublishCompletion = @Sendable (Result<Void, AMQPError>) -> Void

/// A consumer's sink: where deliveries for its tag go.
typealias DeliverySink = AsyncThrowingStream<AMQPDelivery, Error>.Continuation

/// Per-channel state on the connection thread: publisher-confirm window,
/// unconfirmed publishes by delivery tag, and consumers by tag.
final class ChannelRecord {
    struct Unconfirmed {
        let message: OutgoingMessage
        let completion: PublishCompletion
        /// Set when a `basic.return` for this mandatory message arrived before its ack.
        var returned: AMQPError?
    }

    let handle: ChannelHandle
    /// Whether `confirm.select` was sent.
    var confirming = false
    /// Most unconfirmed publishes at once (0: unlimited).
    var window = 0
    /// The delivery tag the broker will give the next publish.
    var nextTag: UInt64 = 1
    /// The smallest tag that may still be unconfirmed.
    var lowestTag: UInt64 = 1
    var unconfirmed: [UInt64: Unconfirmed] = [:]
    /// Publishes waiting for room in the window, oldest first (`waitingHead` indexes the next).
    var waiting: [(OutgoingMessage, PublishCompletion)] = []
    var waitingHead = 0
    var consumers: [String: DeliverySink] = [:]
    /// Whether a consumer of this channel reads a stream (`x-stream-offset`): a stream takes
    /// no reject or nack (RabbitMQ closes the connection with 540 NOT_IMPLEMENTED), and a
    /// delivery nobody will read is acknowledged instead, which only returns credit.
    var readsStream = false
    /// The message whose content frames are arriving now.
    var incoming: IncomingContent?

    init(handle: ChannelHandle) {
        self.handle = handle
    }

    var hasRoom: Bool { window == 0 || unconfirmed.count < window }
    var waitingCount: Int { waiting.count - waitingHead }

    /// Fails everything pending on this channel.
    func fail(_ error: AMQPError) {
        let pending = unconfirmed.values
        unconfirmed = [:]
        for entry in pending { entry.completion(.failure(error)) }
        for (_, completion) in waiting[waitingHead...] { completion(.failure(error)) }
        waiting = []
        waitingHead = 0
        for sink in consumers.values { sink.finish(throwing: error) }
        consumers = [:]
        incoming = nil
    }
}
