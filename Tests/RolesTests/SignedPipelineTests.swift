import Foundation
import Learning
import Messaging
import Report
@testable import Roles
import TestSupport
import Testing
import Trust
import Wire

/// Issue 15: a signed deployment on RabbitMQ as `fedq` processes. A fleet signing its
/// updates, workers holding the issuer's key, a signing coordinator and an evaluator
/// holding the coordinator's key train; a forged update and forged model messages are
/// refused or dropped and counted, no role exits, and the books balance.
@Suite(.exclusiveBroker, .serialized, .timeLimit(.minutes(5)))
struct SignedPipelineTests {
    @Test func aSignedDeploymentTrainsAndShrugsOffForgeries() async throws {
        let deployment = try await Deployment("signed")
        let (keys, notAfter) = try deployment.writeKeys(clients: 0..<20)
        let verify = ["--coordinator-key", keys + "/coordinator.pub", "--metrics-port", "0"]
        try deployment.start("coordinator", [
            "coordinator", "--checkpoint", deployment.directory + "/coordinator", "--signing-key", keys + "/coordinator.key",
        ])
        let workers = try (1...2).map { try deployment.start("worker-\($0)", ["worker", "--issuer-key", keys + "/issuer.pub"] + verify) }
        let evaluator = try deployment.start("eval", ["eval", "--out", deployment.directory + "/eval", "--test-samples", "500"] + verify)
        let fleet = try deployment.start("fleet", [
            "fleet", "--clients", "20", "--max-updates", "150", "--credentials", keys + "/clients",
            "--out", deployment.directory + "/fleet",
        ] + verify)

        try await deployment.waitUntil("20 updates applied", timeout: .seconds(120)) {
            deployment.settled().filter { $0.disposition == "applied" }.count >= 20
        }
        // Forgeries: an update signed under a credential of an issuer nobody trusts (it
        // also copies the id of an update published before it), garbage on the model
        // fanout, and a well-formed but unsigned model far ahead.
        let forger = try await TestBroker.connect()
        let stranger = ClientIdentity.issue(clientID: 3, notAfter: notAfter, by: SigningKey())
        let copiedID = try #require(deployment.published().first.flatMap { UpdateID(hex: $0) })
        var forged = try TestUpdates.update(0.5)
        forged.header.updateID = copiedID
        forged.header.clientID = 3
        forged.body = try Envelope.restamped(forged.body, updateID: copiedID, clientID: 3)
        try await forger.publish(
            forged.body, exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey,
            properties: PipelineMessage.signed(update: PipelineMessage.properties(for: forged.header), body: forged.body, by: stranger),
            mandatory: true)
        try await forger.publish(TestUpdates.garbage, exchange: PipelineTopology.modelsExchange, routingKey: "")
        try await forger.publish([], exchange: PipelineTopology.versionsExchange, routingKey: "")
        let (unsignedBody, unsignedProperties) = try PipelineMessage.encodeModel(
            GlobalModel(version: 1_000_000, parameters: [Float](repeating: 0, count: ModelSpec.mlp.parameterCount), updatesApplied: 0),
            spec: .mlp)
        try await forger.publish(unsignedBody, exchange: PipelineTopology.modelsExchange, routingKey: "", properties: unsignedProperties)
        try await forger.publish([], exchange: PipelineTopology.versionsExchange, routingKey: "", properties: unsignedProperties)
        await forger.close()

        #expect(await fleet.wait(timeout: .seconds(180)) == 0, "the fleet did not finish: \(fleet.output.suffix(400))")
        try await deployment.waitUntil("the forgery settled", timeout: .seconds(30)) {
            deployment.settled().contains { $0.reason == "unauthenticated" }
        }
        try await deployment.waitUntil("every published update settled", timeout: .seconds(90)) {
            Set(deployment.published()).isSubset(of: Set(deployment.settled().map(\.id)))
        }
        let settled = deployment.settled()
        let published = deployment.published()
        // Each fleet update settled once, and one more entry: the forgery's.
        #expect(Set(settled.map(\.id)).count == settled.count, "an id settled twice")
        #expect(Set(settled.map(\.id)).subtracting(published) == Set(settled.filter { $0.reason == "unauthenticated" }.map(\.id)))
        // Booked under its bytes' digest: the honest update whose id it copied is settled once, applied or stale.
        let forgery = settled.filter { $0.reason == "unauthenticated" }
        #expect(forgery.count == 1 && forgery.first?.id != copiedID.hex && forgery.first?.disposition == "rejected")
        #expect(settled.filter { $0.id == copiedID.hex }.count == 1 && settled.first { $0.id == copiedID.hex }?.disposition != "rejected")
        // The books balance: the fleet's updates and the forgery, each settled once.
        #expect(settled.count == published.count + 1)
        try await Task.sleep(for: .milliseconds(1500))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(deployment.read("coordinator/summary.json").utf8)) as? [String: Any])
        let counts = ["updates_applied", "updates_dropped_stale", "updates_rejected"].map { summary[$0] as? Int ?? -1 }
        #expect(counts.reduce(0, +) == published.count + 1, "summary \(counts) vs \(published.count) published + 1 forged")
        #expect((summary["rejected_by_reason"] as? [String: Int])?["unauthenticated"] == 1)

        // The forged model messages were dropped and counted, and every subscriber went on.
        // The evaluator's one-slot queue keeps only the newest message (drop-head), so a real
        // version published right after the forgery can push it out unread: forge again
        // until one is read (each is dropped and counted, or the test fails below).
        var evalMetrics: [String: Double] = [:]
        for attempt in 0..<30 {
            evalMetrics = try await LoadTestAndMetricsTests.scrape(try LoadTestAndMetricsTests.metricsPort(evaluator))
            if evalMetrics["fedq_models_rejected_total{reason=\"unauthenticated\"}", default: 0] >= 1 { break }
            if attempt > 0 {
                let again = try await TestBroker.connect()
                try await again.publish(unsignedBody, exchange: PipelineTopology.modelsExchange, routingKey: "", properties: unsignedProperties)
                await again.close()
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(evalMetrics["fedq_models_rejected_total{reason=\"unauthenticated\"}", default: 0] >= 1, "eval: \(evalMetrics.filter { $0.key.contains("models") })")
        var workerRejections = 0.0
        for worker in workers {
            let metrics = try await LoadTestAndMetricsTests.scrape(try LoadTestAndMetricsTests.metricsPort(worker))
            workerRejections += metrics.filter { $0.key.hasPrefix("fedq_models_rejected_total") }.values.reduce(0, +)
        }
        #expect(workerRejections >= 2, "the workers dropped the bare and the unsigned version notices")
        #expect(!(try HistoryCSV.parse(deployment.read("eval/history.csv"))).contains { $0.version == 1_000_000 })
        #expect(deployment.read("eval.log").contains("model message dropped"))
        for role in ["coordinator", "worker-1", "worker-2", "eval"] {
            let status = await deployment.process(named: role)?.wait(timeout: .milliseconds(10))
            #expect(status == nil, "\(role) exited: \(deployment.read(role + ".log").suffix(400))")
        }
        let statuses = await deployment.stopAll()
        for (name, status) in statuses { #expect(status == 0, "\(name) exited with \(String(describing: status))") }
    }
}
