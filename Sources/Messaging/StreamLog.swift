/// A stream queue's messages in the embedded broker: appended, never consumed away, each
/// at the offset it was given (0, 1, 2, … as in a fresh RabbitMQ stream). It keeps
/// everything: retention (`x-max-length-bytes`) is RabbitMQ's, and a test run's streams
/// are small.
final class StreamLog {
    private var messages: [StoredMessage] = []

    var count: Int { messages.count }

    /// The offset the next message will get.
    var end: UInt64 { UInt64(messages.count) }

    func append(_ message: StoredMessage) { messages.append(message) }

    /// The message at `offset`, if it was published yet.
    subscript(offset: UInt64) -> StoredMessage? {
        offset < end ? messages[Int(offset)] : nil
    }

    /// The first offset a reader starting at `offset` gets.
    func start(at offset: StreamOffset) -> UInt64 {
        switch offset {
        case .first: 0
        case .next: end
        case .offset(let value): value
        }
    }
}
