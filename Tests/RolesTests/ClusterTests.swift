import Foundation
import Roles
import TestSupport
import Testing

/// The pipeline as `fedq` processes on a 3-node RabbitMQ cluster (`scripts/cluster.sh`),
/// every role given all three node URLs. Losing a node must lose and double nothing.
@Suite(.exclusiveBroker, .serialized, .timeLimit(.minutes(5)))
struct ClusterTests {
    /// Which node is killed (kill -9) mid-run.
    enum Victim: String, CaseIterable, CustomTestStringConvertible {
        /// The node of the coordinator's connection: the coordinator must move.
        case coordinatorsNode = "the coordinator's node"
        /// The leader of `fedq.q.updates`: the quorum queue must elect another.
        case updatesLeader = "the leader of fedq.q.updates"
        var testDescription: String { rawValue }
    }

    @Test(arguments: Victim.allCases)
    func killingANodeMidRunLosesAndDoublesNothing(_ victim: Victim) async throws {
        let deployment = try await Deployment("cluster", broker: try TestCluster.urls())
        try deployment.start("coordinator", ["coordinator", "--checkpoint", deployment.directory + "/coordinator"])
        try deployment.start("worker-1", ["worker"])
        try deployment.start("worker-2", ["worker"])
        let fleet = try deployment.start(
            "fleet", ["fleet", "--clients", "20", "--max-updates", "400", "--out", deployment.directory + "/fleet"])
        try await deployment.waitUntil("60 updates applied", timeout: .seconds(120)) {
            deployment.settled().filter { $0.disposition == "applied" }.count >= 60
        }
        let coordinatorsNode = try await TestCluster.runScript("node-of", "fedq coordinator")
        let node = switch victim {
        case .coordinatorsNode: coordinatorsNode
        case .updatesLeader: try await TestCluster.runScript("leader", PipelineTopology.updatesQueue)
        }
        try await TestCluster.runScript("kill", node)
        #expect(await fleet.wait(timeout: .seconds(180)) == 0, "the fleet did not finish its 400 updates: \(fleet.output.suffix(400))")
        try await deployment.expectEveryPublishedUpdateSettledOnce()
        #expect(deployment.published().count == 400)
        let statuses = await deployment.stopAll()
        try await TestCluster.runScript("restart", node)
        for (name, status) in statuses { #expect(status == 0, "\(name) exited with \(String(describing: status)) on SIGTERM") }
        if node == coordinatorsNode {
            #expect(deployment.read("coordinator.log").contains("reconnected"), "the coordinator never moved off node \(node)")
        }
        let versions = deployment.settled().filter { $0.disposition == "applied" }.map(\.version)
        #expect(versions == versions.sorted(), "applied versions go backwards in updates.csv")
    }
}
