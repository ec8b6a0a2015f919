import CRabbitMQ
import Foundation

/// A message's content arriving on a channel after the method that announced it (a
/// deliver, a return, a get-ok): its header frame, then body frames until the size the
/// header gave.
///
/// The frames are assembled here as they are read rather than with librabbitmq's
/// `amqp_read_message`, which blocks the connection thread until the whole message is in
/// and copies every body frame into a buffer of its own: each fragment is copied once,
/// from librabbitmq's frame buffer into the `[UInt8]` the delivery carries.
struct IncomingContent {
    /// What to do with the whole message (called on the connection thread).
    let complete: (_ body: [UInt8], _ properties: AMQPProperties) -> Void
    var properties = AMQPProperties()
    /// From the header frame; nil until it came.
    var bodySize: Int?
    var body: [UInt8] = []
}

extension ConnectionSession {
    /// Expects a message's content on `record` next; `complete` gets it whole. A method
    /// announcing content while another message's content is still arriving breaks the
    /// protocol (content frames of one channel never interleave): the connection fails.
    func expectContent(
        on record: ChannelRecord, complete: @escaping (_ body: [UInt8], _ properties: AMQPProperties) -> Void
    ) {
        guard record.incoming == nil else {
            return fail(unexpected("a message announced before the last one's content was whole", channel: record.handle.number))
        }
        record.incoming = IncomingContent(complete: complete)
    }

    /// Takes a header or body frame into its channel's message; completes the message
    /// once its body is whole. A content frame that no method announced, or a body longer
    /// than its header said, is the broker breaking the protocol: the connection fails.
    func handleContent(_ frame: amqp_frame_t, on record: ChannelRecord) {
        // Taken out, not copied: a second reference to `body` would make every append copy it whole.
        guard var content = record.incoming.take() else {
            return fail(unexpected("content frame with no message announced", channel: frame.channel))
        }
        if frame.frame_type == UInt8(AMQP_FRAME_HEADER) {
            guard content.bodySize == nil, let size = Int(exactly: frame.payload.properties.body_size) else {
                return fail(unexpected("a second header frame or an impossible body size", channel: frame.channel))
            }
            content.bodySize = size
            content.properties = AMQPProperties(
                frame.payload.properties.decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee)
            // The size is the broker's word: reserve at most 128 MB up front, grow beyond.
            content.body.reserveCapacity(min(size, 1 << 27))
        } else {
            let fragment = frame.payload.body_fragment
            guard let size = content.bodySize, content.body.count + fragment.len <= size else {
                return fail(unexpected("a body frame before the header or past the body size", channel: frame.channel))
            }
            if fragment.len > 0, let bytes = fragment.bytes {
                content.body.append(contentsOf: UnsafeBufferPointer(start: bytes.assumingMemoryBound(to: UInt8.self), count: fragment.len))
            }
        }
        guard let size = content.bodySize, content.body.count == size else {
            record.incoming = content
            return
        }
        content.complete(content.body, content.properties)
    }

    /// Reads frames, handling every one, until the content announced on `record` is whole
    /// (for `basic.get`, whose answer is synchronous). False if the connection failed first.
    func awaitContent(of record: ChannelRecord) -> Bool {
        while record.incoming != nil && isOpen { _ = handleNextFrame(waiting: timeval(tv_sec: 1, tv_usec: 0)) }
        return isOpen
    }

    private func unexpected(_ what: String, channel: amqp_channel_t) -> AMQPError {
        AMQPError(.unexpectedFrame, what, operation: "read from \(configuration.redactedURL) on channel \(channel)")
    }
}
