import FedCore
import Messaging
import Wire

/// How a refused message is named on its way from a worker (which knows why it refused
/// it) to the coordinator (which keeps the run's books).
///
/// A message the worker could not judge as a client's update (it does not decode, or
/// is not proven to come from an admitted client, or is a second message under an id
/// already taken) is booked under `fnv1a128` of its bytes, never under the AMQP
/// `message_id` or the id its envelope claims: both are whatever the sender wrote, and
/// a forger copying an honest update's id must not get the honest update booked (and
/// then skipped as already settled). The same bytes redelivered after a crash digest
/// the same, so the message is still counted once (docs/wire-format.md).
enum Settlement {
    /// 128-bit FNV-1a: a stable name for bytes whose own id is not to be trusted.
    static func fnv1a128(_ bytes: [UInt8]) -> UpdateID { FNV1a128.digest(bytes) }
}
