import FedCore

/// A growable ring buffer of messages: a queue appends at the tail, delivers from the
/// head and puts requeued messages back at the head, all in O(1).
struct MessageRing {
    private var storage: [StoredMessage?] = Array(repeating: nil, count: 16)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ message: StoredMessage) {
        growIfFull()
        storage[(head + count) % storage.count] = message
        count += 1
    }

    /// Puts a message back in front, to be delivered next.
    mutating func prepend(_ message: StoredMessage) {
        growIfFull()
        head = (head + storage.count - 1) % storage.count
        storage[head] = message
        count += 1
    }

    mutating func popFirst() -> StoredMessage? {
        guard count > 0 else { return nil }
        let message = storage[head].take()
        head = (head + 1) % storage.count
        count -= 1
        return message
    }

    mutating func popLast() -> StoredMessage? {
        guard count > 0 else { return nil }
        count -= 1
        return storage[(head + count) % storage.count].take()
    }

    private mutating func growIfFull() {
        guard count == storage.count else { return }
        var grown = [StoredMessage?](repeating: nil, count: storage.count * 2)
        for offset in 0..<count {
            grown[offset] = storage[(head + offset) % storage.count].take()
        }
        storage = grown
        head = 0
    }
}

/// A message as a queue holds it: the body is shared by every queue it was routed to.
struct StoredMessage {
    var body: [UInt8]
    var properties: MessageProperties
    var exchange: String
    var routingKey: String
    var redelivered: Bool
}
