import AMQP
import ArgumentParser
import Foundation

/// `fedq topology apply|check`: declare or verify `topology/definitions.json` on a broker.
struct Topology: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Declare or verify the broker topology from a RabbitMQ definitions file.",
        subcommands: [Apply.self, Check.self]
    )

    /// Options shared by both subcommands.
    struct Options: ParsableArguments {
        @Option(help: "Broker URL, e.g. amqp://guest:guest@127.0.0.1:5699/%2F (env FEDQ_BROKER).")
        var broker: String = ProcessInfo.processInfo.environment["FEDQ_BROKER"] ?? ""

        @Option(help: "RabbitMQ definitions file holding the topology.")
        var definitions: String = "topology/definitions.json"

        func validate() throws {
            guard !broker.isEmpty else { throw ValidationError("--broker is required (or set FEDQ_BROKER)") }
            do { _ = try AMQPConfiguration(url: broker) } catch { throw ValidationError("--broker: \(error)") }
            guard FileManager.default.fileExists(atPath: definitions) else {
                throw ValidationError("--definitions: no file at \(definitions)")
            }
        }

        func load() async throws -> (AMQPConnection, AMQPTopology) {
            let topology = try AMQPTopology(definitionsAt: definitions)
            return (try await AMQPConnection(url: broker, connectionName: "fedq topology"), topology)
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare every exchange, queue and binding (idempotent).")

        @OptionGroup var options: Options
        @Flag(help: "Also empty every queue of the definitions: a fresh run (demos, load tests) must not count what an earlier one left.")
        var purge = false

        func run() async throws {
            let (connection, topology) = try await options.load()
            try await connection.declare(topology)
            if purge {
                let channel = try await connection.openChannel()
                var purged = 0
                for queue in topology.queues { purged += try await channel.purgeQueue(queue.name) }
                print("purged \(purged) messages")
            }
            await connection.close()
            print("applied \(topology.exchanges.count) exchanges, \(topology.queues.count) queues, \(topology.bindings.count) bindings from \(options.definitions)")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify that every exchange and queue exists with the defined settings.")

        @OptionGroup var options: Options

        func run() async throws {
            let (connection, topology) = try await options.load()
            let problems = try await connection.check(topology)
            await connection.close()
            guard problems.isEmpty else {
                for problem in problems { print("MISMATCH \(problem)") }
                throw ExitCode(1)
            }
            print("ok: \(topology.exchanges.count) exchanges and \(topology.queues.count) queues match \(options.definitions)")
        }
    }
}
