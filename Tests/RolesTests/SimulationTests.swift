@testable import Roles
import Messaging
import Report
import Simulation
import Aggregation
import Foundation
import Learning
import TestSupport
import Testing
import Wire

/// End-to-end runs of the whole pipeline with real MNIST and real training (a subset, to
/// stay quick), on the embedded broker and, for the main run, the same body on RabbitMQ.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct SimulationTests {
    static func config(_ change: (inout SimulationConfig) -> Void = { _ in }) -> SimulationConfig {
        var config = SimulationConfig()
        config.dataDirectory = packageRoot + "/data/mnist"
        config.clients = 20
        config.concurrency = 5
        config.trainSubset = 12_000
        config.testSubset = 2_000
        config.learningRate = 0.1
        config.codec = try! CodecSpec(parsing: "int8")
        config.targetAccuracy = 0.90
        config.maxSeconds = 60
        config.evaluationPacing = EvaluationPacing(minimumInterval: .milliseconds(50))
        change(&config)
        return config
    }

    static func run(_ config: SimulationConfig, on broker: TestTransport = .embedded) async throws -> RunResult {
        let connector = try broker.connector(name: "fedq-simulation-tests")
        let result = try await Simulation(config: config).run(connect: connector.connect)
        await connector.close()
        return result
    }

    /// `fedq simulate --updates-queue stream --update-shards 2`: the two workers claim a
    /// stream shard each, and the run learns and balances its books as on quorum queues.
    @Test func theStreamPathReachesNinetyPercentAndAccountsForEveryUpdate() async throws {
        let result = try await Self.run(Self.config { $0.shards = try! UpdateShards(2).with(.stream) })
        let summary = result.summary
        #expect(summary.reachedTarget)
        #expect(summary.updatesPublished > 0)
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
        #expect(summary.updatesRejected == 0)
    }

    /// The same run on both brokers, one connection per role, over queues an earlier
    /// run left dirty.
    @Test(arguments: TestTransport.allCases)
    func fedBuffReachesNinetyPercentAndAccountsForEveryUpdate(on broker: TestTransport) async throws {
        let connector = try broker.connector(name: "fedq-simulation-tests")
        let leftovers = try await connector.connect()
        try await PipelineTopology.declare(on: leftovers)
        try await leftovers.publish(
            [1, 2, 3], exchange: PipelineTopology.updatesExchange, routingKey: PipelineTopology.updatesRoutingKey)
        await leftovers.close()

        let result = try await Simulation(config: Self.config()).run(connect: connector.connect)
        let summary = result.summary
        #expect(summary.reachedTarget)
        #expect(summary.bestAccuracy >= 0.90)
        // The final model also holds the updates drained after the target (on 2,000 test
        // images one point is 20 of them): close to the best, not always above the target.
        #expect(summary.finalAccuracy >= 0.85)
        #expect(summary.updatesToTarget.map { $0 > 0 } == true)
        #expect(summary.updatesPublished > 0)
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
        #expect(summary.updatesRejected == 0, "rejected: \(summary.rejectedByReason)")
        // Versions are evaluated in increasing order, and the last one is the final model.
        let versions = result.history.map(\.version)
        #expect(versions == versions.sorted() && Set(versions).count == versions.count)
        #expect(versions.last == summary.modelVersions)
        #expect(result.stalenessHistogram.reduce(0, +) == summary.updatesApplied)
        #expect(summary.bytesPublished > 0 && summary.bytesPublished < summary.updatesPublished * ModelSpec.mlp.parameterCount * 4 / 3)

        // Every role's connection is closed: nothing consumes or waits in the pipeline's queues.
        let after = try await connector.connect()
        for queue in [PipelineTopology.updatesQueue, PipelineTopology.partialsQueue] {
            #expect(try await after.queueStatus(queue) == QueueStatus(name: queue, messageCount: 0, consumerCount: 0))
        }
        await after.close()
        await connector.close()
    }

    @Test func fedAvgRoundsWithDropoutsAndStragglersStillComplete() async throws {
        let result = try await Self.run(Self.config {
            $0.strategy = .fedAvg(clientsPerRound: 5)
            $0.dropout = 0.2
            $0.slowdown = .stragglers(fraction: 0.2, factor: 3)
            $0.targetAccuracy = 0.85
        })
        let summary = result.summary
        #expect(summary.reachedTarget)
        #expect(summary.clientsDropped > 0)
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
        // Synchronous rounds: every applied update was trained on the version it changed.
        #expect(summary.meanStaleness == 0)
        #expect(summary.updatesApplied >= Int(summary.modelVersions) * 5 - 5)
    }

    @Test func topKWithErrorFeedbackStillLearns() async throws {
        let result = try await Self.run(Self.config {
            $0.codec = try! CodecSpec(parsing: "topk:0.05+int8")
            $0.targetAccuracy = 0.85
        })
        #expect(result.summary.reachedTarget)
        #expect(result.summary.bytesPublished * 15 < result.summary.updatesPublished * ModelSpec.mlp.parameterCount * 4)
    }

    /// A model the user wrote (`--model "dense:32,relu,dense:10"`) runs through the whole
    /// pipeline like a built-in, on both brokers: its spec hash on every update, none refused
    /// as another model's or as malformed. The defences may still refuse a few (a clean-clone
    /// CI run on 2026-12-07 saw a refusal on RabbitMQ; the reason was not recorded): this small
    /// model trains so fast that its clients can outrun the model versions.
    @Test(arguments: TestTransport.allCases)
    func writtenModelTrainsFederated(on broker: TestTransport) async throws {
        let spec = try ModelSpec.parse(layers: "dense:32,relu,dense:10", input: .mnist, classCount: 10)
        let result = try await Self.run(
            Self.config {
                $0.model = spec
                $0.targetAccuracy = 0.85
            }, on: broker)
        let summary = result.summary
        #expect(summary.reachedTarget)
        #expect(summary.updatesApplied > 0)
        #expect(summary.rejectedByReason[RejectionReason.wrongModel.name] == nil, "\(summary.rejectedByReason)")
        #expect(summary.rejectedByReason[RejectionReason.malformed.name] == nil, "\(summary.rejectedByReason)")
        // Whatever the defences refused is under a fifth of what was applied, and every update is accounted for.
        #expect(summary.updatesRejected * 5 < summary.updatesApplied, "\(summary.rejectedByReason)")
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
    }

    @Test func outputsAreWrittenAndReadable() async throws {
        let result = try await Self.run(Self.config { $0.targetAccuracy = 0.5 })
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-sim-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let report = try result.write(to: folder)
        let history = try HistoryCSV.parse(String(contentsOfFile: folder + "/history.csv", encoding: .utf8))
        #expect(history.map(\.version) == result.history.map(\.version))
        #expect(zip(history, result.history).allSatisfy { abs($0.accuracy - $1.accuracy) < 1e-6 })
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
        #expect(summary == result.summary)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        // Accuracy vs time and vs version, loss, macro-F1, staleness, updates/s (no DP chart: not private).
        #expect(html.components(separatedBy: "<svg").count - 1 == 6)
        #expect(html.contains("updates published"))
    }
}

/// The repository root, where `data/mnist` lives.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
