import ArgumentParser
import CLISupport
import Foundation
import RabbitMQTransport
import Roles

/// `fedq topology apply|check`: declare or verify `topology/definitions.json` on a broker.
struct Topology: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Declare or verify the broker topology from a RabbitMQ definitions file.",
        subcommands: [Apply.self, Check.self]
    )

    /// Options shared by both subcommands.
    struct Options: ParsableArguments {
        @Option(help: "Broker URL, amqp[s]://USER[:PASSWORD]@HOST:PORT/VHOST (env FEDQ_BROKER), as an administrator (fedq-admin).")
        var broker: String?
        @Option(help: "File holding the broker password (one line), instead of the URL's (env FEDQ_BROKER_PASSWORD_FILE).")
        var brokerPasswordFile: String?

        /// The password from `--broker-password-file`, if given.
        func password() throws -> String? {
            try EnvironmentDefaults.brokerPasswordFile(brokerPasswordFile).map { try SharedOptions.readSecret($0, flag: "broker-password-file") }
        }

        /// `--broker`, else `FEDQ_BROKER` (validated before `run`).
        var brokerURL: String? { EnvironmentDefaults.broker(broker) }

        @Option(help: "RabbitMQ definitions file holding the topology.")
        var definitions: String = "topology/definitions.json"

        func validate() throws {
            guard let broker = brokerURL else { throw ValidationError("--broker is required (or set FEDQ_BROKER)") }
            do { try TransportFactory.validate(broker) } catch { throw ValidationError("--broker: \(error)") }
            guard FileManager.default.fileExists(atPath: definitions) else {
                throw ValidationError("--definitions: no file at \(definitions)")
            }
        }

        func load() throws -> TopologyDefinitions {
            try TopologyDefinitions(path: definitions)
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare every exchange, queue and binding (idempotent).")

        @OptionGroup var options: Options
        @Flag(help: "Also empty every queue of the definitions: a fresh run (demos, load tests) must not count what an earlier one left.")
        var purge = false
        @Option(help: "Also declare the update queues of this many shards (1-64) and their slot bindings (docs/cluster.md).")
        var updateShards = 1
        @Option(help: "The update queues' type: quorum (as in the definitions file), stream or classic (docs/cluster.md). A queue's type cannot change: delete the update queues first to switch.")
        var updatesQueue = "quorum"

        func validate() throws {
            _ = try shards()
        }

        func shards() throws -> UpdateShards {
            try UpdateShards.parsing(count: updateShards, queueType: updatesQueue)
        }

        func run() async throws {
            let shards = try shards()
            // The file describes the quorum path; another type's update queues are declared below.
            let topology = shards.queueType == .quorum ? try options.load() : try options.load().excluding(queues: Set(shards.queues))
            let password = try options.password()
            let purged = try await topology.apply(brokerURL: options.brokerURL!, password: password, purge: purge)
            if purge { print("purged \(purged) messages") }
            print("applied \(topology.exchangeCount) exchanges, \(topology.queueCount) queues, \(topology.bindingCount) bindings from \(options.definitions)")
            guard shards.count > 1 || shards.queueType != .quorum else { return }
            // The shards beyond the file's one queue, declared as the roles expect them
            // (PipelineTopology): the file describes the unsharded deployment.
            let transport = try await TransportFactory.connector(
                for: options.brokerURL!, connectionName: "fedq topology", password: password
            ).connect()
            do {
                try await PipelineTopology.declare(on: transport, shards: shards)
                if purge { try await PipelineTopology.purge(on: transport, shards: shards) }
            } catch {
                await transport.close()
                throw error
            }
            await transport.close()
            print("applied \(shards.count) update shards (\(shards.queueType)): \(shards.queues.joined(separator: ", "))")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify that every exchange and queue exists with the defined settings.")

        @OptionGroup var options: Options

        func run() async throws {
            let topology = try options.load()
            let problems = try await topology.check(brokerURL: options.brokerURL!, password: try options.password())
            guard problems.isEmpty else {
                for problem in problems { print("MISMATCH \(problem)") }
                throw ExitCode(1)
            }
            print("ok: \(topology.exchangeCount) exchanges and \(topology.queueCount) queues match \(options.definitions)")
        }
    }
}
