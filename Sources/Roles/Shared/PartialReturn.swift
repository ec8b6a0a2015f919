import FedCore
import Messaging

/// Where a refused partial's new updates can be asked back (docs/robustness.md, "Replays
/// that reach another worker").
///
/// A partial that mixes an update the coordinator counted already (a replay, or a copy
/// two workers raced over) with new ones cannot be split: the coordinator cannot subtract
/// one update from a sum. Before returns it booked the new ones as duplicates, lost to
/// training. Now a queue-shard worker puts its address on every partial and keeps the
/// bodies of the updates in its last partials (`ReturnShelf`); the coordinator parks the
/// mixed partial, books only its counted copies, and asks for the rest back on its version
/// notices. The worker sums each returned update again, alone in a partial of its own, which
/// the coordinator then takes or, if it was counted meanwhile, recognises as a copy.
///
/// A return request is not signed: a forged one only makes a worker send updates again,
/// each alone, and an update counted already is acknowledged as a copy and costs nothing.
public struct PartialReturn: Hashable, Sendable, Codable {
    /// The worker process's instance: random per start, so a restarted worker (whose shelf
    /// is empty) is never asked for another's partials.
    public var worker: UInt64
    /// The partial's sequence number within that instance.
    public var partial: UInt64

    public init(worker: UInt64, partial: UInt64) {
        self.worker = worker
        self.partial = partial
    }

    /// At most this many addresses on one notice: a bound on what a worker parses.
    public static let maxRequests = 4_096

    /// 16 bytes: the worker, then the partial, big-endian.
    public var bytes: [UInt8] { Self.bigEndian(worker) + Self.bigEndian(partial) }

    /// The address on a partial's properties; nil if absent or not 16 bytes (an old worker,
    /// a stream shard's partial, or a malformed header: then the partial is judged as before).
    public init?(_ properties: MessageProperties) {
        guard let bytes = properties.headers[MessageProperties.HeaderName.returnAddress]?.bytesValue,
            let decoded = Self.decode(bytes), decoded.count == 1
        else { return nil }
        self = decoded[0]
    }

    /// Puts this address on a partial's properties.
    public func attach(to properties: inout MessageProperties) {
        properties.headers[MessageProperties.HeaderName.returnAddress] = .bytes(bytes)
    }

    /// Puts the coordinator's outstanding requests on a notice (none: no header).
    public static func attach(_ requests: [PartialReturn], to notice: inout MessageProperties) {
        guard !requests.isEmpty else { return }
        notice.headers[MessageProperties.HeaderName.returnRequests] = .bytes(requests.prefix(maxRequests).flatMap(\.bytes))
    }

    /// The requests a notice carries: empty when it has none, or when the header is not a
    /// whole number of addresses or too long (dropped whole, and said by the caller).
    public static func requests(on properties: MessageProperties) -> [PartialReturn]? {
        guard let bytes = properties.headers[MessageProperties.HeaderName.returnRequests]?.bytesValue else { return [] }
        guard bytes.count <= maxRequests * 16 else { return nil }
        return decode(bytes)
    }

    private static func decode(_ bytes: [UInt8]) -> [PartialReturn]? {
        guard bytes.count % 16 == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: 16).map { start in
            PartialReturn(worker: readBigEndian(bytes, at: start), partial: readBigEndian(bytes, at: start + 8))
        }
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }

    private static func readBigEndian(_ bytes: [UInt8], at start: Int) -> UInt64 {
        bytes[start..<(start + 8)].reduce(0) { $0 << 8 | UInt64($1) }
    }
}
