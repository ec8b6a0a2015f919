/// A stream queue's messages in the embedded broker: appended, never consumed away, each
/// at the offset it was given (0, 1, 2, … as in a fresh RabbitMQ stream).
///
/// Retention (`x-max-length-bytes`) drops the oldest messages once the bodies held exceed
/// it, always keeping the newest: RabbitMQ drops whole segment files (and only when a new
/// one starts), so it keeps somewhat more than this double does, but what a reader sees is
/// the same: a reader of an offset that retention removed starts at the oldest one held.
final class StreamLog {
    /// `x-max-length-bytes`; nil keeps everything.
    private let maxBytes: Int?
    /// The messages held start at `head`; the ones before it were removed by retention and
    /// are let go from the array in batches.
    private var messages: [StoredMessage] = []
    private var head = 0
    private var bytesHeld = 0

    init(maxBytes: Int? = nil) { self.maxBytes = maxBytes }

    /// The oldest offset held.
    private(set) var first: UInt64 = 0

    var count: Int { messages.count - head }

    /// The offset the next message will get.
    var end: UInt64 { first + UInt64(count) }

    func append(_ message: StoredMessage) {
        messages.append(message)
        bytesHeld += message.body.count
        guard let maxBytes else { return }
        while bytesHeld > maxBytes, count > 1 {
            bytesHeld -= messages[head].body.count
            head += 1
            first += 1
        }
        // Let the removed ones go once they are most of the array (amortised O(1) a message).
        if head > 64, head * 2 > messages.count {
            messages.removeFirst(head)
            head = 0
        }
    }

    /// The message at `offset`, if it was published yet and is still held.
    subscript(offset: UInt64) -> StoredMessage? {
        offset >= first && offset < end ? messages[head + Int(offset - first)] : nil
    }

    /// The first offset a reader starting at `offset` gets: the oldest held for an offset
    /// retention removed, as RabbitMQ does.
    func start(at offset: StreamOffset) -> UInt64 {
        switch offset {
        case .first: first
        case .next: end
        case .offset(let value): max(value, first)
        }
    }
}
