@testable import Roles
import Foundation
import Logging
import Messaging
import Simulation
import Synchronization
import TestSupport
import Testing

/// `fedq simulate --broker` on RabbitMQ through a broker restart (issue 18, item 2): every
/// role of the one process reconnects, the coordinator resumes from its checkpoint, and
/// nothing published is lost or counted twice.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(5)))
struct SimulationReconnectTests {
    @Test func simulateOnRabbitMQSurvivesABrokerRestart() async throws {
        // Devices of 500 ms keep the run going well past the restart (about 10 updates/s).
        let config = SimulationTests.config {
            $0.deviceTime = .milliseconds(500)
            $0.maxSeconds = 240
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-simulate-restart-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let connector = try TestBroker.connector(name: "fedq-simulation-reconnect")
        let recovery = SimulationRecovery(
            checkpoint: directory + "/coordinator", patience: .seconds(120), logger: Logger(label: "fedq-simulation-reconnect"))
        let watch = RunWatch()
        let run = Task {
            defer { watch.finish() }
            return try await Simulation(config: config).run(connect: connector.connect, recovery: recovery) { watch.saw($0.applied) }
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while watch.applied < 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let appliedBefore = watch.applied
        try #require(appliedBefore >= 20, "the run applied \(appliedBefore) updates in 2 minutes")
        try await TestBrokerNode.runScript("stop")
        // The restart really happened mid-run: the run was still going while the broker was down.
        #expect(!watch.finished, "the run ended before the broker stopped")
        try await TestBrokerNode.runScript("start")
        let result = try await run.value
        await connector.close()

        let summary = result.summary
        #expect(summary.reachedTarget, "best accuracy \(summary.bestAccuracy)")
        #expect(summary.updatesApplied > appliedBefore)
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
        // The coordinator's log: every published update settled, each exactly once.
        let log = try String(contentsOfFile: directory + "/coordinator/updates.csv", encoding: .utf8)
        let ids = log.split(separator: "\n").compactMap { SettlementRecord(line: $0)?.id }
        #expect(ids.count == summary.updatesPublished)
        #expect(Set(ids).count == ids.count, "\(ids.count - Set(ids).count) updates settled twice")
    }
}

/// What the test sees of a run in progress (its progress callback runs on the run's tasks).
private final class RunWatch: Sendable {
    private let state = Mutex((applied: 0, finished: false))

    func saw(_ applied: Int) { state.withLock { $0.applied = applied } }
    func finish() { state.withLock { $0.finished = true } }
    var applied: Int { state.withLock { $0.applied } }
    var finished: Bool { state.withLock { $0.finished } }
}
