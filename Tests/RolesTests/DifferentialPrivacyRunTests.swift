import Aggregation
import Foundation
import Learning
import Messaging
import Privacy
import Report
@testable import Roles
import Simulation
import TestSupport
import Testing
import Wire

/// Differential privacy through the pipeline: workers clip, the coordinator adds noise and
/// accounts, the budget stops the run, and every place a user looks reports ε.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DifferentialPrivacyRunTests {
    let spec = try! ModelSpec.synthetic(parameters: 8)

    func coordinator(_ privacy: DifferentialPrivacy?, buffer: Int = 2, updatesPerClient: Int? = nil) -> CoordinatorStateMachine {
        let state = CoordinatorState(
            model: GlobalModel(version: 0, parameters: [Float](repeating: 0, count: spec.parameterCount), updatesApplied: 0),
            optimizer: ServerOptimizer(.sgd(learningRate: 1)), settledIDs: SettledIndex(stalenessHorizon: 8), strategy: "fedbuff:\(buffer)")
        return CoordinatorStateMachine(
            state: state, strategy: AggregationStrategy(.fedBuff(bufferSize: buffer)), privacy: privacy, updatesPerClient: updatesPerClient)
    }

    /// A partial of one update of 0.1 from each of `clients` (a client named twice has two).
    func partial(clients: [UInt64], settled: [PartialAggregateSummary.Settled] = []) throws -> CoordinatorStateMachine.Input {
        var aggregate = PartialAggregate(dimension: spec.parameterCount)
        for client in clients {
            try aggregate.add(id: .random(), baseVersion: 0, clientID: client, weight: 1, delta: [Float](repeating: 0.1, count: spec.parameterCount))
        }
        return .partial(aggregate, settled: settled)
    }

    func partial(_ value: Float) throws -> CoordinatorStateMachine.Input {
        var aggregate = PartialAggregate(dimension: spec.parameterCount)
        try aggregate.add(id: .random(), baseVersion: 0, weight: 1, delta: [Float](repeating: value, count: spec.parameterCount))
        return .partial(aggregate, settled: [])
    }

    /// The noise is sized for one update per client per aggregate; a private run counts the
    /// aggregates where a client had more (with or without a `--max-client-rate` limit), and
    /// the most one client had, and its ε charges each aggregate for that client.
    @Test func aPrivateRunCountsAggregatesHoldingAClientMoreThanOnce() throws {
        let privacy = try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 100, population: 10)
        for limit in [nil, 4] as [Int?] {
            var machine = coordinator(privacy, buffer: 4, updatesPerClient: limit)
            // Four distinct clients: the assumption holds.
            _ = machine.receive(try partial(clients: [1, 2]))
            _ = machine.receive(try partial(clients: [3, 4]))
            #expect(try machine.applyBuffer()?.refusal == nil)
            #expect(machine.repeatedClientAggregates == 0 && machine.largestClientShare == 1)
            // Client 5 twice in one partial (a worker from before DP kept them apart; across
            // partials one would wait, `aPartialRepeatingAClientWaitsForTheNextAggregate`),
            // then client 6 three times.
            _ = machine.receive(try partial(clients: [5, 5]))
            _ = machine.receive(try partial(clients: [1, 2]))
            #expect(try machine.applyBuffer()?.refusal == nil)
            _ = machine.receive(try partial(clients: [6, 6, 6]))
            _ = machine.receive(try partial(clients: [7]))
            #expect(try machine.applyBuffer()?.refusal == nil)
            #expect(machine.repeatedClientAggregates == 2 && machine.largestClientShare == 3, "limit \(String(describing: limit))")
            // And ε charged each aggregate for its most repeated client: σ/1, σ/2, σ/3 at q = 4/10.
            var charged = RDPAccountant()
            for share in [1.0, 2, 3] { charged.record(samplingRate: 0.4, noiseMultiplier: 1 / share) }
            #expect(machine.state.privacy == charged)
            #expect(machine.privacyEpsilon == charged.epsilon(delta: privacy.delta).epsilon)
        }
        // Without DP nothing is counted.
        var plain = coordinator(nil)
        _ = plain.receive(try partial(1))
        _ = plain.receive(try partial(1))
        _ = try plain.applyBuffer()
        #expect(plain.repeatedClientAggregates == 0 && plain.largestClientShare == 0)
    }

    @Test func withoutNoiseThePrivateStepIsThePlainMeanAndIsAccounted() throws {
        var machine = coordinator(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 0, population: 10))
        _ = machine.receive(try partial(1))
        _ = machine.receive(try partial(3))
        let applying = try machine.applyBuffer()
        let applied = try #require(applying)
        #expect(applied.released)
        #expect(applied.model.parameters == [Float](repeating: 2, count: spec.parameterCount))
        #expect(machine.state.privacy?.steps == 1)
        #expect(machine.privacyEpsilon == .infinity)
    }

    @Test func noiseOfSigmaTimesClipIsAddedToTheSum() throws {
        // σ·C = 4 on the sum, so 2 per parameter after dividing by K = 2: the step is not the mean.
        var machine = coordinator(try DifferentialPrivacy(clipNorm: 2, noiseMultiplier: 2, population: 10))
        _ = machine.receive(try partial(1))
        _ = machine.receive(try partial(3))
        let applying = try machine.applyBuffer()
        let applied = try #require(applying)
        #expect(applied.model.parameters != [Float](repeating: 2, count: spec.parameterCount))
        // q = 2/10, σ = 2, one step: what RDPAccountant says, and what the model carries.
        var expected = RDPAccountant()
        expected.record(samplingRate: 0.2, noiseMultiplier: 2)
        #expect(machine.privacyEpsilon == expected.epsilon(delta: 1e-5).epsilon)
        #expect(applied.model.privacyEpsilon == machine.privacyEpsilon)
    }

    @Test func anAggregateThatWouldOverspendIsRefusedAndBooked() throws {
        // One step of q = 0.2, σ = 1 costs more than ε = 1 at δ = 1e-5.
        var machine = coordinator(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 1, population: 10))
        _ = machine.receive(try partial(1))
        _ = machine.receive(try partial(3))
        let applying = try machine.applyBuffer()
        let refused = try #require(applying)
        #expect(!refused.released)
        #expect(refused.model.version == 0 && refused.model.parameters == [Float](repeating: 0, count: spec.parameterCount))
        #expect(refused.records.map(\.reason) == [.privacyBudget, .privacyBudget])
        #expect(machine.state.accounting.rejected[.privacyBudget] == 2)
        #expect(machine.bufferedUpdates == 0 && machine.state.privacy?.steps == 0)
    }

    /// ε = 8 at σ = 1 with q = 0.2 allows a few aggregates, then refuses: the run that averages
    /// releases the average of its versions once, and nothing after it.
    func averagingRun(decay: Double?) throws -> (CoordinatorStateMachine, versions: [[Float]], last: CoordinatorStateMachine.Applied) {
        var machine = coordinator(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 8, population: 10, finalAverageDecay: decay))
        var versions = [machine.state.model.parameters]
        while true {
            _ = machine.receive(try partial(1))
            _ = machine.receive(try partial(1))
            let applying = try machine.applyBuffer()
            let applied = try #require(applying)
            if applied.refusal != nil { return (machine, versions, applied) }
            versions.append(applied.model.parameters)
        }
    }

    @Test func whenTheBudgetIsSpentTheAverageOfTheVersionsIsReleasedOnceAndNothingAfterIt() throws {
        var (machine, versions, last) = try averagingRun(decay: 0.9)
        #expect(versions.count >= 3, "ε = 8 should allow a few aggregates, got \(versions.count - 1)")
        var expected = IterateAverage(decay: 0.9)
        for version in versions { expected.include(version) }
        #expect(last.refusal == .privacyBudget && last.releasesAverage && last.released)
        #expect(last.records.map(\.reason) == [.privacyBudget, .privacyBudget])
        #expect(last.model.version == UInt64(versions.count) && last.model.parameters == expected.parameters)
        #expect(last.model.parameters != versions.last)
        #expect(machine.state.budgetClosed && machine.state.model.parameters == expected.parameters)
        // It goes out marked final, and only it: clients stop training on it.
        #expect(last.model.isFinal && !versions.isEmpty)
        for (model, final) in [(last.model, true), (GlobalModel(version: 1, parameters: versions[1], updatesApplied: 2), false)] {
            let (body, properties) = try PipelineMessage.encodeModel(model, spec: spec)
            #expect(properties.headers[MessageProperties.HeaderName.finalVersion]?.intValue == (final ? 1 : nil))
            #expect(try PipelineMessage.decodeModel(TestUpdates.delivery(body, properties), spec: spec).isFinal == final)
        }
        // ε and the steps are those of the aggregates: the average spent nothing.
        #expect(machine.state.privacy?.steps == versions.count - 1)
        // Closed: even the smallest aggregate, which the budget alone might admit, is refused.
        _ = machine.receive(try partial(1))
        let applying = try machine.applyBuffer()
        let after = try #require(applying)
        #expect(after.refusal == .privacyBudget && !after.released && after.model.version == last.model.version)
        #expect(machine.state.accounting.rejected[.privacyBudget] == 3)
    }

    /// A run that stops before its budget (a simulation's limit) ends as the budget's end
    /// would: the average of the versions so far becomes the last version, once, at no ε,
    /// and only with nothing buffered.
    @Test func aRunEndingBeforeItsBudgetReleasesTheAverageOfItsVersions() throws {
        var machine = coordinator(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 8, population: 10))
        var expected = IterateAverage(decay: DifferentialPrivacy.defaultFinalAverageDecay)
        expected.include(machine.state.model.parameters)
        for value: Float in [1, 2] {
            _ = machine.receive(try partial(value))
            _ = machine.receive(try partial(value))
            let applying = try machine.applyBuffer()
            let applied = try #require(applying)
            #expect(applied.refusal == nil)
            expected.include(applied.model.parameters)
        }
        let steps = machine.state.privacy?.steps
        // Not while an aggregate is buffered: it would be lost under the closed budget.
        _ = machine.receive(try partial(3))
        let whileBuffered = machine.releaseFinalAverage()
        #expect(!whileBuffered && !machine.state.budgetClosed)
        _ = machine.receive(try partial(3))
        let third = try machine.applyBuffer()
        #expect(third?.refusal == nil)
        expected.include(machine.state.model.parameters)
        let released = machine.releaseFinalAverage()
        #expect(released)
        #expect(machine.state.budgetClosed && machine.state.model.version == 4 && machine.state.model.parameters == expected.parameters)
        #expect(machine.state.model.isFinal && machine.state.privacy?.steps == (steps ?? 0) + 1)
        let again = machine.releaseFinalAverage()
        #expect(!again && machine.state.model.version == 4)
        // Without an average there is nothing to release, and the budget stays open.
        var plain = coordinator(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 8, population: 10, finalAverageDecay: 0))
        _ = plain.receive(try partial(1))
        _ = plain.receive(try partial(1))
        _ = try plain.applyBuffer()
        let unaveraged = plain.releaseFinalAverage()
        #expect(!unaveraged && !plain.state.budgetClosed && plain.state.model.version == 1)
    }

    @Test func withoutAnAverageTheBudgetRefusesAndReleasesNothing() throws {
        let (machine, versions, last) = try averagingRun(decay: nil)
        #expect(!last.released && last.model.version == UInt64(versions.count - 1))
        #expect(machine.state.average == nil && !machine.state.budgetClosed)
        #expect(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, population: 10, finalAverageDecay: 0).finalAverageDecay == nil)
        #expect(throws: DifferentialPrivacyError.self) {
            try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, population: 10, finalAverageDecay: 1)
        }
    }

    @Test func theAverageAndTheClosedBudgetSurviveARestart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-dp-\(UUID().uuidString.prefix(6))").path
        let store = try CoordinatorStore(directory: directory)
        let privacy = try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 8, population: 10, finalAverageDecay: 0.9)
        var machine = coordinator(privacy)
        _ = machine.receive(try partial(1))
        _ = machine.receive(try partial(3))
        let applying = try machine.applyBuffer()
        try store.commit(machine.state, spec: spec, records: try #require(applying).records)
        let loaded = try #require(try store.load(spec: spec, strategy: "fedbuff:2"))
        #expect(loaded.average == machine.state.average && loaded.average?.count == 2 && !loaded.budgetClosed)
        // Closed, and restarted: still closed, and the released average is the model.
        let (closed, _, _) = try averagingRun(decay: 0.9)
        try store.commit(closed.state, spec: spec, records: [])
        let reloaded = try #require(try store.load(spec: spec, strategy: "fedbuff:2"))
        #expect(reloaded.budgetClosed && reloaded.average == closed.state.average)
        #expect(reloaded.model.parameters == closed.state.model.parameters)
        var restarted = CoordinatorStateMachine(state: reloaded, strategy: AggregationStrategy(.fedBuff(bufferSize: 2)), privacy: privacy)
        #expect(restarted.state.model.isFinal, "a restart serves the average as final again")
        // A restart before the budget's end that is told not to average forgets the average.
        let unaveraged = try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 8, population: 10, finalAverageDecay: 0)
        #expect(CoordinatorStateMachine(state: loaded, strategy: AggregationStrategy(.fedBuff(bufferSize: 2)), privacy: unaveraged).state.average == nil)
        _ = restarted.receive(try partial(1))
        _ = restarted.receive(try partial(1))
        let refusing = try restarted.applyBuffer()
        let refused = try #require(refusing)
        #expect(refused.refusal == .privacyBudget && !refused.released)
    }

    @Test func theSpentBudgetSurvivesARestart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-dp-\(UUID().uuidString.prefix(6))").path
        let store = try CoordinatorStore(directory: directory)
        var machine = coordinator(try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, population: 10))
        _ = machine.receive(try partial(1))
        _ = machine.receive(try partial(3))
        let applying = try machine.applyBuffer()
        let applied = try #require(applying)
        try store.commit(machine.state, spec: spec, records: applied.records)
        let loaded = try #require(try store.load(spec: spec, strategy: "fedbuff:2"))
        #expect(loaded.privacy == machine.state.privacy)
        let restarted = CoordinatorStateMachine(
            state: loaded, strategy: AggregationStrategy(.fedBuff(bufferSize: 2)),
            privacy: try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, population: 10))
        #expect(restarted.privacyEpsilon == machine.privacyEpsilon && restarted.privacyEpsilon ?? 0 > 0)
    }

    /// One update per client per aggregate: a partial holding a client that the aggregate
    /// being filled holds already waits for the next aggregate (the coordinator keeps it
    /// unacknowledged and gives it again), so no aggregate needs charging at σ/2; what its
    /// worker booked with it is booked once, when it first came.
    @Test func aPartialRepeatingAClientWaitsForTheNextAggregate() throws {
        let privacy = try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 100, population: 10)
        var machine = coordinator(privacy, buffer: 4)
        #expect(machine.receive(try partial(clients: [1, 2])) == .hold(records: []))
        // Client 2 again, beside a worker's refusal of another update: postponed, the refusal booked now.
        let refused = PartialAggregateSummary.Settled(updateID: .random(), baseVersion: 0, reason: .outOfBounds)
        let repeating = try partial(clients: [2], settled: [refused])
        guard case .postpone(let booked, applyNow: false) = machine.receive(repeating) else {
            Issue.record("a partial repeating client 2 was taken into the aggregate")
            return
        }
        #expect(booked.map(\.id) == [refused.updateID] && booked.first?.disposition == .rejected)
        #expect(machine.bufferedUpdates == 2 && machine.postponedPartials == 1)
        #expect(machine.receive(try partial(clients: [3, 4])) == .apply(records: []))
        let first = try #require(try machine.applyBuffer())
        #expect(first.model.updatesApplied == 4 && first.refusal == nil)
        // Given again to the next aggregate: taken, and its refusal not booked twice.
        #expect(machine.receive(repeating) == .hold(records: []))
        #expect(machine.receive(try partial(clients: [5, 6])) == .hold(records: []))
        #expect(machine.receive(try partial(clients: [7])) == .apply(records: []))
        #expect(try machine.applyBuffer()?.model.updatesApplied == 8)
        // No aggregate held a client twice, so both were charged at σ.
        #expect(machine.repeatedClientAggregates == 0 && machine.largestClientShare == 1 && machine.postponedPartials == 1)
        var charged = RDPAccountant()
        charged.record(samplingRate: 0.4, noiseMultiplier: 1, steps: 2)
        #expect(machine.state.privacy == charged)
        #expect(machine.state.accounting.applied == 8 && machine.state.accounting.rejected[.outOfBounds] == 1)
        // Without DP nothing waits.
        var plain = coordinator(nil, buffer: 4)
        #expect(plain.receive(try partial(clients: [1, 2])) == .hold(records: []))
        #expect(plain.receive(try partial(clients: [2, 3])) == .apply(records: []))
    }

    /// Postponed partials stay unacknowledged, so they take room in the coordinator's
    /// prefetch window; once the buffered and postponed partials fill it the broker sends no
    /// more, and the buffer is applied as it stands rather than wait for ever.
    @Test func postponedPartialsFillingTheWindowHaveTheBufferAppliedShort() throws {
        let privacy = try DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 100, population: 10)
        var machine = coordinator(privacy, buffer: 7)
        machine.partialWindow = 4
        #expect(machine.receive(try partial(clients: [1, 2])) == .hold(records: []))
        #expect(machine.receive(try partial(clients: [1, 3])) == .postpone(records: [], applyNow: false))
        #expect(machine.receive(try partial(clients: [3])) == .hold(records: []))
        #expect(machine.receive(try partial(clients: [2, 4])) == .postpone(records: [], applyNow: true))
        #expect(try machine.applyBuffer()?.model.updatesApplied == 3)
        // Both windows' counts start again with the next aggregate.
        #expect(machine.receive(try partial(clients: [1, 3])) == .hold(records: []))
        #expect(machine.receive(try partial(clients: [3, 5])) == .postpone(records: [], applyNow: false))
        #expect(machine.repeatedClientAggregates == 0 && machine.postponedPartials == 3)
    }

    /// Under DP a worker never sums two updates of one client into one partial: the
    /// coordinator can postpone a partial, never split one. It flushes what it holds first.
    @Test func underDPAWorkersPartialNeverHoldsAClientTwice() throws {
        for clipNorm in [1, nil] as [Double?] {
            var machine = WorkerStateMachine(spec: spec, settings: WorkerSettings(
                flushUpdates: 10, staleness: StalenessPolicy(function: .constant), clipNorm: clipNorm, defences: .off))
            _ = machine.receive(try TestUpdates.update(0.1, spec: spec, client: 7).body, redelivered: false)
            _ = machine.receive(try TestUpdates.update(0.1, spec: spec, client: 8).body, redelivered: false)
            let again = machine.receive(try TestUpdates.update(0.1, spec: spec, client: 7).body, redelivered: false)
            guard case .added(let batches) = again else {
                Issue.record("client 7's second update was refused: \(again)")
                continue
            }
            if clipNorm == nil {
                // Without DP it rides with the others until the flush size.
                #expect(batches.isEmpty && machine.partial.count == 3)
            } else {
                #expect(batches.map { $0.partial.entries.compactMap(\.clientID) } == [[7, 8]])
                #expect(batches.first?.deliveries == 2 && machine.partial.entries.compactMap(\.clientID) == [7])
            }
        }
    }

    @Test func workersClipEveryUpdateToTheBound() throws {
        var machine = WorkerStateMachine(spec: spec, settings: WorkerSettings(
            flushUpdates: 1, staleness: StalenessPolicy(function: .constant), clipNorm: 1))
        // Eight values of 3: norm 3·√8, clipped to 1 (each value 1/√8); a short one is untouched.
        let long = try TestUpdates.update(3, spec: spec)
        guard case .added(let batches) = machine.receive(long.body, redelivered: false), let sum = batches.first?.partial.weightedSum else {
            Issue.record("the update was not added")
            return
        }
        #expect(abs(sum.l2Norm() - 1) < 1e-6)
        #expect(sum.allSatisfy { abs($0 - Float(1 / 8.0.squareRoot())) < 1e-6 })
        // Issue 17: an update of norm 1e6 adds at most C to the partial.
        let huge = try TestUpdates.update(1e6 / Float(8.0.squareRoot()), spec: spec)
        guard case .added(let hugeBatches) = machine.receive(huge.body, redelivered: false),
            let bounded = hugeBatches.first?.partial.weightedSum
        else {
            Issue.record("the update was not added")
            return
        }
        #expect(bounded.l2Norm() <= 1 + 1e-6)
        let short = try TestUpdates.update(0.1, spec: spec)
        guard case .added(let more) = machine.receive(short.body, redelivered: false), let small = more.first?.partial.weightedSum else {
            Issue.record("the update was not added")
            return
        }
        #expect(small == [Float](repeating: 0.1, count: spec.parameterCount))
    }

    /// A private simulation of 20 clients (clip 1, σ = 1) that never reaches its target
    /// accuracy: it ends at its budget or at `maxUpdates`.
    func privateRun(targetEpsilon: Double, maxUpdates: Int? = nil) async throws -> RunResult {
        let config = SimulationTests.config {
            $0.clients = 20
            $0.maxSeconds = 60
            $0.maxUpdates = maxUpdates
            $0.targetAccuracy = 1
            $0.privacy = try! DifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: targetEpsilon, population: 20)
        }
        return try await SimulationTests.run(config)
    }

    @Test func aPrivateSimulationReportsEpsilonAndStopsAtItsBudget() async throws {
        let result = try await privateRun(targetEpsilon: 8)
        let privacy = try #require(result.summary.privacy)
        #expect(privacy.epsilon <= 8 && privacy.epsilon > 0)
        // One version per aggregate, and the last one is the versions' average (no step of its own).
        #expect(privacy.steps + 1 == Int(result.summary.modelVersions))
        #expect(privacy.finalAverageVersion == result.summary.modelVersions)
        #expect(privacy.clip == 1 && privacy.noiseMultiplier == 1 && privacy.delta == 1e-5)
        // 20 clients, five training at once: no aggregate held a client twice. (Whether any
        // partial had to wait for it depends on timing: 0 to 7 in this run of 6-7 aggregates,
        // 0 in 4 of 40 runs under load; `aPartialRepeatingAClientWaitsForTheNextAggregate`
        // drives the postponement itself.)
        #expect(privacy.repeatedClientAggregates == 0 && privacy.largestClientShare == 1)
        // The run stopped at its budget: the aggregates after it were refused and booked.
        #expect(result.summary.rejectedByReason["privacy-budget", default: 0] > 0)
        let summary = result.summary
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
        // ε grows along the history, one value per evaluated version.
        let epsilons = result.history.compactMap(\.dpEpsilon)
        #expect(epsilons.count == result.history.count && epsilons == epsilons.sorted())
        // summary.json spells the keys the issue names.
        let json = try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any]
        for key in [
            "dp_epsilon", "dp_delta", "dp_noise_multiplier", "dp_clip", "dp_steps", "dp_sampling_rate", "dp_final_average_version",
            "dp_aggregates_with_repeated_clients", "dp_largest_client_share", "dp_partials_postponed",
        ] {
            #expect(json?[key] is NSNumber, "\(key) missing")
        }
        let reread = try JSONDecoder().decode(RunSummary.self, from: summary.jsonData())
        #expect(reread.privacy == summary.privacy)
        #expect(result.htmlReport().contains("Privacy spent (ε at δ 1e-05) vs model version"))
        #expect(result.htmlReport().contains("version \(result.summary.modelVersions): the moving average of the versions"))
        let history = try HistoryCSV.parse(HistoryCSV.render(result.history))
        #expect(history.map(\.dpEpsilon) == result.history.map { $0.dpEpsilon.map { (($0 * 1e6).rounded()) / 1e6 } })
    }

    /// A private simulation stopped by its update limit long before its budget: its last
    /// version, the one scored last, is the versions' average, as at the budget's end.
    @Test func aPrivateSimulationStoppedBeforeItsBudgetEndsOnTheAverage() async throws {
        let result = try await privateRun(targetEpsilon: 1000, maxUpdates: 60)
        let privacy = try #require(result.summary.privacy)
        #expect(result.summary.rejectedByReason["privacy-budget", default: 0] == 0 && privacy.epsilon < 1000)
        #expect(privacy.steps >= 2 && privacy.steps + 1 == Int(result.summary.modelVersions))
        #expect(privacy.finalAverageVersion == result.summary.modelVersions)
        #expect(result.history.last?.version == result.summary.modelVersions)
        let summary = result.summary
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == summary.updatesPublished)
    }

    @Test func aRunWithoutPrivacyWritesNullKeysAndTheOldHistory() throws {
        let summary = RunSummary()
        let json = try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any]
        #expect(json?["dp_epsilon"] is NSNull && json?["dp_steps"] is NSNull)
        #expect(HistoryCSV.render([EvaluationRecord(version: 1, seconds: 0, accuracy: 0.5, loss: 1, macroF1: 0.4)]).hasPrefix(HistoryCSV.header + "\n"))
    }
}
