import Foundation

/// The exchanges, queues and bindings of one virtual host, as read from a
/// RabbitMQ definitions file (the single source of truth: the same file is
/// importable with `rabbitmqctl import_definitions`).
public struct AMQPTopology: Sendable, Equatable {
    public var exchanges: [AMQPExchange]
    public var queues: [AMQPQueue]
    public var bindings: [AMQPBinding]

    public init(exchanges: [AMQPExchange] = [], queues: [AMQPQueue] = [], bindings: [AMQPBinding] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }
}

extension AMQPTopology {
    /// Reads the definitions for `virtualHost` from a definitions JSON file.
    /// - Throws: `AMQPError` `.invalidDefinitions` naming the file and what is wrong.
    public init(definitionsAt path: String, virtualHost: String = "/") throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AMQPError(.invalidDefinitions, "cannot read: \(error.localizedDescription)", operation: "read \(path)")
        }
        try self.init(definitionsJSON: data, virtualHost: virtualHost, source: path)
    }

    /// Parses definitions JSON (`exchanges`, `queues`, `bindings` arrays).
    public init(definitionsJSON data: Data, virtualHost: String = "/", source: String = "definitions") throws {
        let file: DefinitionsFile
        do {
            file = try JSONDecoder().decode(DefinitionsFile.self, from: data)
        } catch {
            throw AMQPError(.invalidDefinitions, "not RabbitMQ definitions JSON: \(error)", operation: "parse \(source)")
        }
        func inHost(_ vhost: String?) -> Bool { (vhost ?? "/") == virtualHost }
        exchanges = (file.exchanges ?? []).filter { inHost($0.vhost) }.map {
            AMQPExchange(name: $0.name, type: $0.type, durable: $0.durable ?? true, autoDelete: $0.auto_delete ?? false,
                         internal: $0.internal ?? false, arguments: $0.arguments?.mapValues(\.value) ?? [:])
        }
        queues = (file.queues ?? []).filter { inHost($0.vhost) }.map {
            AMQPQueue(name: $0.name, durable: $0.durable ?? true, exclusive: false, autoDelete: $0.auto_delete ?? false,
                      arguments: $0.arguments?.mapValues(\.value) ?? [:])
        }
        bindings = try (file.bindings ?? []).filter { inHost($0.vhost) }.map { binding in
            guard (binding.destination_type ?? "queue") == "queue" else {
                throw AMQPError(.invalidDefinitions,
                                "binding \(binding.source) → \(binding.destination): only queue destinations are supported",
                                operation: "parse \(source)")
            }
            return AMQPBinding(exchange: binding.source, queue: binding.destination, routingKey: binding.routing_key ?? "",
                               arguments: binding.arguments?.mapValues(\.value) ?? [:])
        }
    }
}

/// The parts of RabbitMQ's definitions format that describe topology.
private struct DefinitionsFile: Decodable {
    struct Exchange: Decodable {
        let name: String
        let vhost: String?
        let type: AMQPExchange.Kind
        let durable: Bool?
        let auto_delete: Bool?
        let `internal`: Bool?
        let arguments: [String: Argument]?
    }

    struct Queue: Decodable {
        let name: String
        let vhost: String?
        let durable: Bool?
        let auto_delete: Bool?
        let arguments: [String: Argument]?
    }

    struct Binding: Decodable {
        let source: String
        let vhost: String?
        let destination: String
        let destination_type: String?
        let routing_key: String?
        let arguments: [String: Argument]?
    }

    let exchanges: [Exchange]?
    let queues: [Queue]?
    let bindings: [Binding]?
}

/// A JSON argument value mapped to the AMQP type RabbitMQ gives it on import.
private struct Argument: Decodable {
    let value: AMQPFieldValue

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            value = .bool(flag)
        } else if let integer = try? container.decode(Int64.self) {
            value = .int(integer)
        } else if let number = try? container.decode(Double.self) {
            value = .double(number)
        } else if let text = try? container.decode(String.self) {
            value = .string(text)
        } else if let list = try? container.decode([Argument].self) {
            value = .array(list.map(\.value))
        } else if let table = try? container.decode([String: Argument].self) {
            value = .table(table.mapValues(\.value))
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unsupported argument value")
        }
    }
}
