import FedCore
import Foundation

extension MessageProperties {
    /// One entry of RabbitMQ's `x-death` header: why, from which queue, and how often a
    /// message was dead-lettered. The pipeline reads it to count rejections by reason.
    public struct Death: Sendable, Equatable {
        /// `rejected`, `maxlen` or `expired`, as RabbitMQ spells them.
        public let reason: String
        public let queue: String
        public let count: Int64

        public init(reason: String, queue: String, count: Int64) {
            self.reason = reason
            self.queue = queue
            self.count = count
        }
    }

    /// The `x-death` entries, most recent first.
    public var deaths: [Death] {
        (headers["x-death"]?.arrayValue ?? []).compactMap { value in
            guard let entry = value.tableValue, let reason = entry["reason"]?.stringValue,
                let queue = entry["queue"]?.stringValue
            else { return nil }
            return Death(reason: reason, queue: queue, count: entry["count"]?.intValue ?? 1)
        }
    }

    /// Records a dead-lettering the way RabbitMQ does: the `x-death` entry for this
    /// queue and reason moves to the front with its count raised (or a new one is
    /// added), and `x-first-death-*` / `x-last-death-*` name the first and latest.
    mutating func recordDeath(reason: String, queue: String, exchange: String, routingKey: String, at time: Date) {
        var deaths = headers["x-death"]?.arrayValue ?? []
        let matches: (HeaderValue) -> Bool = { value in
            value.tableValue?["queue"] == .string(queue) && value.tableValue?["reason"] == .string(reason)
        }
        var entry: [String: HeaderValue] = [
            "reason": .string(reason), "queue": .string(queue), "exchange": .string(exchange),
            "routing-keys": .array([.string(routingKey)]), "count": 1,
        ]
        if let index = deaths.firstIndex(where: matches), let previous = deaths.remove(at: index).tableValue {
            entry = previous
            entry["count"] = .int((previous["count"]?.intValue ?? 0) + 1)
        }
        entry["time"] = .timestamp(time)
        deaths.insert(.table(entry), at: 0)
        headers["x-death"] = .array(deaths)
        if headers["x-first-death-reason"] == nil {
            headers["x-first-death-reason"] = .string(reason)
            headers["x-first-death-queue"] = .string(queue)
            headers["x-first-death-exchange"] = .string(exchange)
        }
        headers["x-last-death-reason"] = .string(reason)
        headers["x-last-death-queue"] = .string(queue)
        headers["x-last-death-exchange"] = .string(exchange)
    }
}
