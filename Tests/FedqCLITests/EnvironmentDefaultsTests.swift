import ArgumentParser
import Testing
@testable import CLISupport
@testable import FedqBench
@testable import FedqCLI

@Suite struct EnvironmentDefaultsTests {
    @Test func variablesFillOnlyTheSharedFlagsTheCommandLineLeavesOut() throws {
        let environment = ["FEDQ_BROKER": "amqp://u:p@h:1/v", "FEDQ_MAX_STALENESS": "8", "FEDQ_CODEC": "fp16", "FEDQ_WEIGH_BY_SAMPLES": "true", "FEDQ_OTHER": "x"]
        let arguments = EnvironmentDefaults.arguments(["worker", "--codec", "int8"], environment: environment)
        let worker = try #require(try Fedq.parseAsRoot(arguments) as? WorkerCommand)
        #expect(worker.shared.broker == "amqp://u:p@h:1/v")
        #expect(worker.shared.maxStaleness == 8)
        #expect(worker.shared.codec == "int8", "the command line wins")
        #expect(worker.shared.weighBySamples)
    }

    @Test func otherCommandsAndPositionalArgumentsAreLeftAlone() {
        let environment = ["FEDQ_BROKER": "amqp://h/"]
        #expect(EnvironmentDefaults.arguments(["inspect", "x.msg"], environment: environment) == ["inspect", "x.msg"])
        #expect(EnvironmentDefaults.arguments(["eval", "--", "--x"], environment: environment) == ["eval", "--broker", "amqp://h/", "--", "--x"])
    }

    /// `FEDQ_LDP_*` reaches the commands that run clients and no other: one environment can
    /// serve a whole deployment, and a worker is not refused for an option it does not have.
    @Test func localPrivacyVariablesFillOnlyTheClientCommands() throws {
        let environment = ["FEDQ_BROKER": "amqp://u@h/", "FEDQ_LDP_CLIP": "1", "FEDQ_LDP_NOISE_MULTIPLIER": "4", "FEDQ_LDP_UNIT": "record", "FEDQ_LDP_SAMPLING_RATE": "0.05", "FEDQ_LDP_BUDGET_FILE": "/var/lib/fedq/books.json"]
        let fleet = try #require(try Fedq.parseAsRoot(EnvironmentDefaults.arguments(["fleet"], environment: environment)) as? FleetCommand)
        #expect(fleet.fleet.localPrivacy.ldpClip == 1 && fleet.fleet.localPrivacy.ldpNoiseMultiplier == 4)
        #expect(fleet.fleet.localPrivacy.ldpUnit == .record && fleet.fleet.localPrivacy.ldpSamplingRate == 0.05)
        #expect(fleet.fleet.localPrivacy.ldpBudgetFile == "/var/lib/fedq/books.json")
        let worker = EnvironmentDefaults.arguments(["worker"], environment: environment)
        #expect(!worker.contains { $0.hasPrefix("--ldp") })
        #expect(try Fedq.parseAsRoot(worker) is WorkerCommand)
    }

    @Test func badValuesFromTheEnvironmentAreTheSameTypedErrors() {
        let arguments = EnvironmentDefaults.arguments(["coordinator"], environment: ["FEDQ_STRATEGY": "fedsomething"])
        #expect(throws: (any Error).self) { _ = try Fedq.parseAsRoot(arguments) }
    }
}
