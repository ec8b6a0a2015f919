import CRabbitMQ

/// Exchange and queue declarations, bindings, deletes and purges.
extension ConnectionSession {
    func declareExchange(_ handle: ChannelHandle, _ exchange: AMQPExchange, passive: Bool) throws(AMQPError) {
        let operation = "\(passive ? "check" : "declare") exchange '\(exchange.name)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        _ = amqp_exchange_declare(state, handle.number, allocation.bytes(exchange.name), allocation.bytes(exchange.type.rawValue),
                                  passive ? 1 : 0, exchange.durable ? 1 : 0, exchange.autoDelete ? 1 : 0,
                                  exchange.internal ? 1 : 0, allocation.table(exchange.arguments))
        withExtendedLifetime(allocation) {}
        try checkReply(operation: operation, channel: record)
    }

    func declareQueue(_ handle: ChannelHandle, _ queue: AMQPQueue, passive: Bool) throws(AMQPError) -> AMQPQueueStatus {
        let operation = "\(passive ? "check" : "declare") queue '\(queue.name)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        let ok = amqp_queue_declare(state, handle.number, allocation.bytes(queue.name), passive ? 1 : 0,
                                    queue.durable ? 1 : 0, queue.exclusive ? 1 : 0, queue.autoDelete ? 1 : 0,
                                    allocation.table(queue.arguments))
        withExtendedLifetime(allocation) {}
        try checkReply(operation: operation, channel: record)
        guard let ok else { throw AMQPError(.unexpectedFrame, "queue.declare-ok missing", operation: operation) }
        return AMQPQueueStatus(name: String(amqpBytes: ok.pointee.queue), messageCount: Int(ok.pointee.message_count),
                               consumerCount: Int(ok.pointee.consumer_count))
    }

    func bind(_ handle: ChannelHandle, _ binding: AMQPBinding, unbind: Bool) throws(AMQPError) {
        let operation = "\(unbind ? "unbind" : "bind") queue '\(binding.queue)' \(unbind ? "from" : "to") '\(binding.exchange)' key '\(binding.routingKey)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        if unbind {
            _ = amqp_queue_unbind(state, handle.number, allocation.bytes(binding.queue), allocation.bytes(binding.exchange),
                                  allocation.bytes(binding.routingKey), allocation.table(binding.arguments))
        } else {
            _ = amqp_queue_bind(state, handle.number, allocation.bytes(binding.queue), allocation.bytes(binding.exchange),
                                allocation.bytes(binding.routingKey), allocation.table(binding.arguments))
        }
        withExtendedLifetime(allocation) {}
        try checkReply(operation: operation, channel: record)
    }

    func deleteQueue(_ handle: ChannelHandle, name: String, ifUnused: Bool, ifEmpty: Bool) throws(AMQPError) -> Int {
        let operation = "delete queue '\(name)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        let ok = amqp_queue_delete(state, handle.number, allocation.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
        withExtendedLifetime(allocation) {}
        try checkReply(operation: operation, channel: record)
        return Int(ok?.pointee.message_count ?? 0)
    }

    func purgeQueue(_ handle: ChannelHandle, name: String) throws(AMQPError) -> Int {
        let operation = "purge queue '\(name)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        let ok = amqp_queue_purge(state, handle.number, allocation.bytes(name))
        withExtendedLifetime(allocation) {}
        try checkReply(operation: operation, channel: record)
        return Int(ok?.pointee.message_count ?? 0)
    }

    func deleteExchange(_ handle: ChannelHandle, name: String, ifUnused: Bool) throws(AMQPError) {
        let operation = "delete exchange '\(name)'"
        let record = try record(handle, operation)
        let allocation = CAllocation()
        _ = amqp_exchange_delete(state, handle.number, allocation.bytes(name), ifUnused ? 1 : 0)
        withExtendedLifetime(allocation) {}
        try checkReply(operation: operation, channel: record)
    }
}
