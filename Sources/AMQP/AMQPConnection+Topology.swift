/// Declaring and verifying a whole `AMQPTopology`.
extension AMQPConnection {
    /// Declares every exchange, queue and binding. Declaring what already
    /// exists with the same settings is a no-op, so this is idempotent.
    /// - Throws: `AMQPError` `.preconditionFailed` when something exists with other settings.
    public func declare(_ topology: AMQPTopology) async throws {
        let channel = try await openChannel()
        for exchange in topology.exchanges { try await channel.declare(exchange) }
        for queue in topology.queues { try await channel.declare(queue) }
        for binding in topology.bindings { try await channel.bind(binding) }
        await channel.close()
    }

    /// Verifies that every exchange and queue exists with the same settings:
    /// a passive declare (404 when missing), then a declare with the
    /// definitions' settings (406 when they differ; nothing is created since
    /// the passive check proved it exists). AMQP 0-9-1 cannot query bindings,
    /// so those are not verified.
    /// - Returns: one line per problem; empty when the broker matches.
    public func check(_ topology: AMQPTopology) async throws -> [String] {
        var problems: [String] = []
        var channel = try await openChannel()
        func verify(_ what: String, passive: () async throws -> Void, exact: () async throws -> Void) async throws {
            do {
                try await passive()
                try await exact()
            } catch let error as AMQPError where !error.isConnectionLoss {
                problems.append("\(what): \(error.code): \(error.text)")
                channel = try await openChannel()
            }
        }
        for exchange in topology.exchanges {
            try await verify("exchange '\(exchange.name)'",
                             passive: { try await channel.declare(exchange, passive: true) },
                             exact: { try await channel.declare(exchange) })
        }
        for queue in topology.queues {
            try await verify("queue '\(queue.name)'",
                             passive: { try await channel.declare(queue, passive: true) },
                             exact: { try await channel.declare(queue) })
        }
        await channel.close()
        return problems
    }
}
