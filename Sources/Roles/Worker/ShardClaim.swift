import Messaging

/// A worker's hold on one shard of a stream updates path: a stream has no competing
/// consumers (every reader gets every message), so each shard must have exactly one
/// reader, and this is how a worker becomes it.
///
/// The claim is an exclusive queue, `fedq.claim.updates.<shard>`, declared on the
/// worker's connection. RabbitMQ (and the embedded broker) refuse a second connection's
/// declaration with 405 RESOURCE_LOCKED and delete the queue when its connection ends,
/// however the worker ended: kill -9 frees the shard as surely as a clean exit, with no
/// lease to time out. Only workers may declare these names (`topology/identities.json`).
public struct ShardClaim: Sendable, Equatable {
    public let shard: Int
    /// Tells this claim's partials from a predecessor's on the same shard (``StreamLedger``):
    /// random, so a restarted worker never reuses one.
    public let id: UInt64

    /// The claim queue of `shard`.
    public static func queueName(shard: Int) -> String { "fedq.claim.updates.\(shard)" }

    /// Claims `shard` on `transport`'s connection: the claim, or nil while another
    /// connection holds it.
    public static func take(shard: Int, on transport: some Transport) async throws(TransportError) -> ShardClaim? {
        do {
            try await transport.declareQueue(QueueDeclaration(name: queueName(shard: shard), durable: false, exclusive: true))
        } catch .resourceLocked {
            return nil
        }
        return ShardClaim(shard: shard, id: .random(in: 1...UInt64.max))
    }
}
