import Foundation
import Learning
import Messaging
import RabbitMQTransport
import Roles
import Simulation
import TestSupport
import Testing
import Wire

/// Issue 16 on the real broker: a deployment (coordinator, two workers, a 20-client fleet,
/// an evaluator, each its own process and identity) while one malicious client, with the
/// client identity's permissions, sends every attack of `AttackSpec`. No role may exit or
/// reconnect, every message must be booked (published = applied + stale + rejected), and
/// training must still reach 90%.
@Suite(.exclusiveBroker, .serialized, .timeLimit(.minutes(5)))
struct AttackedDeploymentTests {
    @Test func everyAttackEndsTypedOrBoundedAndNoRoleFalls() async throws {
        let deployment = try await Deployment("attacked")
        let roles = [
            try deployment.start("coordinator", ["coordinator", "--checkpoint", deployment.directory + "/coordinator"]),
            // Unsigned, so the return shelf is asked for (it is on by default with --issuer-key).
            try deployment.start("worker-1", ["worker", "--return-shelf", "32"]),
            try deployment.start("worker-2", ["worker", "--return-shelf", "32"]),
        ]
        let evaluator = try deployment.start(
            "eval", ["eval", "--out", deployment.directory + "/eval", "--target-accuracy", "0.9", "--stop-at-target"])
        let fleet = try deployment.start("fleet", ["fleet", "--clients", "20", "--out", deployment.directory + "/fleet"])

        // Once the workers have heard a version notice (a claim from the future is only
        // recognisable against one).
        try await deployment.waitUntil("training started", timeout: .seconds(90)) { !deployment.settled().isEmpty }
        let attacker = try await TransportFactory.connector(for: try await TestIdentities.url(as: .client), connectionName: "attacker").connect()
        let spec = try ModelSpec.named("mlp")
        let model = GlobalModel(version: 0, parameters: [Float](repeating: 0.01, count: spec.parameterCount), updatesApplied: 0)
        var generator = SeededGenerator(seed: 16)
        var sent = 0
        // Two of each kind (replay's second is the replay itself), spread over the run.
        var previous: UpdateID?
        for round in 0..<2 {
            for kind in AttackSpec.Kind.allCases {
                let message = try AttackSpec(kind: kind).message(
                    round, model: model, spec: spec, clientID: 1_000, previous: previous, generator: &generator)
                var properties = MessageProperties()
                if let id = message.id { properties.messageID = id.hex }
                try await attacker.publish(
                    message.body, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey,
                    properties: properties, mandatory: true)
                if kind == .replay { previous = message.id }
                sent += 1
            }
            try await Task.sleep(for: .seconds(2))
        }
        await attacker.close()

        let status = await evaluator.wait(timeout: .seconds(180))
        #expect(status == 0, "eval did not reach 90% under attack: \(evaluator.output.suffix(500))")
        // No role fell over on the way, and none had to reconnect.
        for role in roles { #expect(await role.wait(timeout: .zero) == nil, "\(role) exited under attack") }
        fleet.signal(SIGTERM)
        #expect(await fleet.wait(timeout: .seconds(20)) == 0)
        let published = deployment.published().count + sent
        try await deployment.waitUntil("every update and attack message is booked", timeout: .seconds(60)) {
            deployment.settled().count >= published
        }
        let settled = deployment.settled()
        #expect(settled.count == published, "\(settled.count) booked, \(published) published")
        let rejected = Dictionary(grouping: settled.filter { $0.disposition == "rejected" }, by: \.reason).mapValues(\.count)
        // samples-max and future twice each; garbage twice; the replays as duplicates.
        #expect(rejected["out-of-bounds", default: 0] >= 4, "\(rejected)")
        #expect(rejected["malformed", default: 0] == 2, "\(rejected)")
        #expect(rejected["duplicate", default: 0] >= 1, "\(rejected)")
        // A replay that reached the other worker no longer costs the fleet's updates it was
        // summed with: the coordinator asks them back (docs/robustness.md).
        let honest = Set(deployment.published())
        let lost = settled.filter { honest.contains($0.id) && $0.reason == "duplicate" }
        #expect(lost.isEmpty, "honest updates booked as duplicates: \(lost.prefix(5))")
        let statuses = await deployment.stopAll()
        for (name, status) in statuses where name != "eval" && name != "fleet" {
            #expect(status == 0, "\(name) exited with \(String(describing: status))")
        }
        let summary = try JSONSerialization.jsonObject(with: Data(deployment.read("coordinator/summary.json").utf8)) as? [String: Any]
        #expect(summary?["reconnects"] as? Int == 0)
    }
}
