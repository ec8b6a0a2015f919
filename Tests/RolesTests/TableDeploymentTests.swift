import Aggregation
import Foundation
import Learning
import Messaging
import RabbitMQTransport
import Report
@testable import Roles
import TestSupport
import Testing
import Trust
import Wire

/// Issue 19 item 4 as a deployment: a table federation of `fedq` processes on RabbitMQ,
/// each role as its own least-privilege identity, with signed updates, statistics and
/// models. The clients' rows never leave them: the standardisation every version carries
/// is merged from their signed statistics; a forged statistics message is refused; the
/// coordinator killed with SIGKILL after the freeze comes back with the same numbers; the
/// evaluator, scaling the held-out rows with the model's numbers, sees 96%.
@Suite(.exclusiveBroker, .serialized, .timeLimit(.minutes(5)))
struct TableDeploymentTests {
    static let wdbc = Deployment.repository + "/data/wdbc/wdbc.csv"

    @Test func aSignedTableFederationOfProcessesSharesStatisticsNotRows() async throws {
        let deployment = try await Deployment("table")
        let (keys, notAfter) = try deployment.writeKeys(clients: 0..<5)
        let table = ["--dataset", Self.wdbc, "--label", "diagnosis", "--model", "dense:64,relu,dense:2"]
        let verify = ["--coordinator-key", keys + "/coordinator.pub"]
        let coordinator = [
            "coordinator", "--checkpoint", deployment.directory + "/coordinator", "--statistics-quorum", "5",
            "--signing-key", keys + "/coordinator.key", "--issuer-key", keys + "/issuer.pub",
        ] + table
        try deployment.start("coordinator", coordinator)
        try deployment.start("worker-1", ["worker", "--issuer-key", keys + "/issuer.pub"] + verify + table)

        // A forger with the client broker identity but no issued credential: its invented
        // rows must not join the quorum (they would shift every client's scaling).
        let forger = try await TransportFactory.connector(for: try await TestIdentities.url(as: .client), connectionName: "forger").connect()
        let spec = try ModelSpec.resolve("dense:64,relu,dense:2", input: .flat(30), classCount: 2)
        let stranger = ClientIdentity.issue(clientID: 0, notAfter: notAfter, by: SigningKey())
        let huge = FeatureStatistics(count: 1, sums: [Double](repeating: 1e6, count: 30), sumsOfSquares: [Double](repeating: 1e12, count: 30))
        let (body, properties) = try PipelineMessage.encodeStatistics(huge, clientID: 0, spec: spec, signedBy: stranger)
        try await forger.publish(
            body, exchange: PipelineTopology.statisticsExchange, routingKey: PipelineTopology.statisticsRoutingKey,
            properties: properties, mandatory: true)
        await forger.close()

        let fleet = try deployment.start("fleet", [
            // Hospitals train for 50 ms at least, not the microseconds 90 rows take here: a
            // fleet thousands of updates ahead of the pipeline is refused rate-limited.
            "fleet", "--clients", "5", "--partition", "dirichlet:0.5", "--device-ms", "50", "--max-updates", "600",
            "--credentials", keys + "/clients",
            "--out", deployment.directory + "/fleet",
        ] + verify + table)
        try await deployment.waitUntil("the standardisation frozen and 30 updates applied", timeout: .seconds(120)) {
            deployment.read("coordinator.log").contains("standardisation frozen from 5 clients")
                && deployment.settled().filter { $0.disposition == "applied" }.count >= 30
        }
        #expect(deployment.read("coordinator.log").contains("statistics refused"))
        let store = try CoordinatorStore(directory: deployment.directory + "/coordinator")
        let frozen = try #require(try store.load(spec: spec, strategy: AggregationStrategy.Kind.default.description)?.model.standardization)

        try #require(deployment.process(named: "coordinator")).signal(SIGKILL)
        try await Task.sleep(for: .milliseconds(500))
        try deployment.start("coordinator-restarted", coordinator)
        let evaluator = try deployment.start(
            "eval", ["eval", "--out", deployment.directory + "/eval", "--target-accuracy", "0.96", "--stop-at-target"] + verify + table)
        #expect(await evaluator.wait(timeout: .seconds(120)) == 0, "eval did not reach 96%: \(evaluator.output.suffix(500))")
        #expect(await fleet.wait(timeout: .seconds(120)) == 0, "the fleet did not finish: \(fleet.output.suffix(400))")
        try await deployment.expectEveryPublishedUpdateSettledOnce()
        await deployment.stopAll()
        #expect(deployment.settled().filter { $0.disposition == "applied" }.count > 400)

        // The restarted coordinator served the checkpointed numbers and waited for no one.
        let restarted = deployment.read("coordinator-restarted.log")
        #expect(restarted.contains("serving version") && !restarted.contains("waiting for"))
        #expect(try store.load(spec: spec, strategy: AggregationStrategy.Kind.default.description)?.model.standardization == frozen)
        // Those numbers are the statistics of every training row (the five clients' rows
        // are all of them), not the forger's and not the test rows'.
        let split = try TableSource(path: Self.wdbc, label: "diagnosis").split(seed: 1)
        let all = FeatureStatistics(of: split.train).standardization
        for feature in 0..<30 {
            #expect(abs(frozen.means[feature] - all.means[feature]) <= 1e-5 * max(1, abs(all.means[feature])))
            #expect(abs(frozen.deviations[feature] - all.deviations[feature]) <= 1e-5 * all.deviations[feature])
        }
        let history = try HistoryCSV.parse(deployment.read("eval/history.csv"))
        #expect((history.map(\.accuracy).max() ?? 0) >= 0.96)
    }
}
