/// Where a consumer of a stream queue starts reading (RabbitMQ's `x-stream-offset`).
///
/// A stream is an append-only log: consuming removes nothing, every consumer reads every
/// message from where it started, and an acknowledgement only returns prefetch credit.
/// Each delivery carries its position (``Delivery/streamOffset``), so a reader that
/// records the offsets it has applied can start again right after them.
public enum StreamOffset: Sendable, Hashable {
    /// The oldest message the stream still holds.
    case first
    /// Only messages published after the consumer started.
    case next
    /// The message at this offset, or the oldest one held when retention removed it.
    case offset(UInt64)
}
