import ArgumentParser
import FedqBench

/// The `fedq` root command: one subcommand per role or job.
public struct Fedq: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fedq",
        abstract: "Asynchronous federated learning over a message queue.",
        version: "0.1.0",
        subcommands: [
            Simulate.self, CoordinatorCommand.self, WorkerCommand.self, FleetCommand.self, ClientCommand.self,
            EvalCommand.self, LoadTestCommand.self, Report.self, Topology.self, Identities.self, Keys.self, Train.self, Inspect.self,
            Bench.self,
        ]
    )

    public init() {}
}
