@testable import Roles
import FedCore
import Foundation
import Learning
import Messaging
import Privacy
import Report
import Simulation
import Synchronization
import TestSupport
import Testing
import Wire

/// Local differential privacy in the client role (issue 17, item 4): what leaves a client is
/// clipped and noised, claims nothing about the client's data, and stops at the client's own
/// budget, which a restart does not give back.
@Suite(.timeLimit(.minutes(2)))
struct LocalPrivacyTests {
    static func settings(privacy: LocalDifferentialPrivacy, clients: Int = 10, maxUpdates: Int? = nil, file: String? = nil) throws -> ClientSettings {
        let training = LocalTraining(
            epochs: 1, batchSize: 10, optimizer: try SGD(learningRate: 0.1), codec: try CodecSpec(parsing: "fp32"), privacy: privacy)
        var settings = ClientSettings(
            spec: .mlp, clients: clients, partition: .iid, training: training, concurrency: 3, maxUpdates: maxUpdates, seed: 1)
        settings.privacyBooks = try LocalPrivacyBooks(settings: privacy, file: file)
        return settings
    }

    static func temporaryFile() -> String {
        NSTemporaryDirectory() + "fedq-ldp-\(UInt64.random(in: 1...UInt64.max)).json"
    }

    /// The update on the wire is the clipped delta plus N(0, (σC)²) per parameter: for the
    /// mlp's 199,210 parameters its norm is σC·√199,210 ≈ 446·σC, whatever the training did,
    /// and the header claims one sample and one step instead of the client's 120 and 12.
    @Test func whatLeavesTheClientIsClippedNoisedAndClaimsNothingOfItsData() async throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 0.01)
        let settings = try Self.settings(privacy: privacy)
        try await ClientTests.withPool { pool in
            let client = try #require(try settings.makeClients(train: ClientTests.data, only: 3).first)
            let update = try await client.train(from: ClientTests.model, on: pool)
            let envelope = try Envelope(bytes: update.message, expecting: PipelineMessage.expectation(.mlp))
            #expect(envelope.header.sampleCount == 1 && envelope.header.localSteps == 1)
            let delta = envelope.decode()
            let norm = delta.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let noise = 0.01 * 0.5 * Double(delta.count).squareRoot()
            // ‖clip(Δ) + z‖² ≈ C² + ‖z‖² when Δ is clipped (its norm is over C: below).
            let expected = (0.25 + noise * noise).squareRoot()
            #expect(abs(norm - expected) < 0.03 * expected, "norm \(norm), expected \(expected)")

            // Without local DP the same client's delta is its training's, longer than C (1.3 here).
            let plain = LocalTraining(epochs: 1, batchSize: 10, optimizer: try SGD(learningRate: 0.1), codec: try CodecSpec(parsing: "fp32"))
            let raw = try plain.run(
                on: Network(spec: .mlp, seed: 1), model: ClientTests.model, data: ClientTests.data, indices: client.shard, clientID: 3,
                updateID: .random(), feedback: nil, seed: 1)
            let rawEnvelope = try Envelope(bytes: raw.message)
            #expect(rawEnvelope.header.sampleCount == 120)
            let rawNorm = rawEnvelope.decode().reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(rawNorm > 2 * 0.5, "the unclipped delta's norm \(rawNorm)")
        }
    }

    /// σ = 2 and ε = 8 allow each client two updates. A fleet of four clients publishes eight,
    /// then every client is retired and the runner returns by itself; a new runner on the same
    /// books (a restarted `fedq fleet`) publishes nothing.
    @Test func aFleetStopsAtEachClientsBudgetAndARestartDoesNotReopenIt() async throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 2, targetEpsilon: 8)
        #expect(privacy.releasesWithinTarget == 2)
        let file = Self.temporaryFile()
        defer { for path in [file, file + ".lock"] { try? FileManager.default.removeItem(atPath: path) } }
        let broker = EmbeddedBroker()
        let setup = broker.connect()
        try await PipelineTopology.declare(on: setup)

        func runFleet() async throws -> (published: [MessageHeader], retired: Int, overview: LocalPrivacyBooks.Overview?) {
            let ledger = PipelineLedger()
            let published = Mutex<[MessageHeader]>([])
            let settings = try Self.settings(privacy: privacy, clients: 4, file: file)
            return try await ClientTests.withPool { pool in
                let transport = broker.connect()
                let runner = try settings.makeRunner(train: ClientTests.data, pool: pool, transport: transport, ledger: ledger) { header in
                    published.withLock { $0.append(header) }
                }
                let models = try await PipelineTopology.subscribeToModels(on: transport)
                let running = Task { try await runner.run(models) }
                try await ClientTests.publishModel(on: setup)
                try await running.value
                return (published.withLock { $0 }, await runner.clientsRetired, runner.privacyBooks?.overview)
            }
        }

        let first = try await runFleet()
        #expect(first.published.count == 8 && first.retired == 4)
        #expect(Dictionary(grouping: first.published, by: \.clientID).mapValues(\.count) == [0: 2, 1: 2, 2: 2, 3: 2])
        do {
            let books = try LocalPrivacyBooks(settings: privacy, file: file)
            for client in UInt64(0)..<4 {
                #expect(!books.permitsRelease(client: client, release: privacy.updateRelease))
                #expect(books.epsilon(client: client) == privacy.epsilon(releases: 2))
            }
            // Kept release by release in the running fleet, and recomputed from the file: the same.
            let spent = LocalPrivacyBooks.Overview(largestEpsilon: privacy.epsilon(releases: 2), mostReleases: 2, clientsSpent: 4)
            #expect(first.overview == spent && books.overview == spent)
            // While these books hold the file, no other may.
            #expect(throws: LocalPrivacyBooksError.inUse(file)) { try LocalPrivacyBooks(settings: privacy, file: file) }
        }

        let again = try await runFleet()
        #expect(again.published.isEmpty && again.retired == 4)
        #expect(try await setup.queueStatus(PipelineTopology.updatesQueue).messageCount == 8)
    }

    /// Books that cannot be read stop the process before it publishes; books that cannot be
    /// written stop the release (nothing is booked, so nothing may leave).
    @Test func unreadableOrUnwritableBooksAreTypedErrors() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 4)
        let garbage = Self.temporaryFile()
        defer { for path in [garbage, garbage + ".lock"] { try? FileManager.default.removeItem(atPath: path) } }
        try Data("not json".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect { try LocalPrivacyBooks(settings: privacy, file: garbage) } throws: { error in
            guard case .unreadable(let file, _) = error as? LocalPrivacyBooksError else { return false }
            return file == garbage
        }
        try Data(#"{"clients":{"seven":[]}}"#.utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: LocalPrivacyBooksError.unreadable(garbage, "client id 'seven' is not a number")) {
            try LocalPrivacyBooks(settings: privacy, file: garbage)
        }

        // A directory that is not there: refused at start, before anything is trained.
        let nowhere = NSTemporaryDirectory() + "fedq-no-such-directory-\(UInt64.random(in: 1...UInt64.max))/books.json"
        #expect { try LocalPrivacyBooks(settings: privacy, file: nowhere) } throws: { error in
            guard case .unwritable(let file, _) = error as? LocalPrivacyBooksError else { return false }
            return file == nowhere
        }
        // One that goes away while the books are open: the release is refused and not booked.
        let directory = NSTemporaryDirectory() + "fedq-ldp-\(UInt64.random(in: 1...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let books = try LocalPrivacyBooks(settings: privacy, file: directory + "/books.json")
        try FileManager.default.removeItem(atPath: directory)
        #expect { try books.recordRelease(client: 1, release: privacy.updateRelease) } throws: { error in
            guard case .unwritable(let file, _) = error as? LocalPrivacyBooksError else { return false }
            return file == directory + "/books.json"
        }
        #expect(books.epsilon(client: 1) == 0 && books.overview.mostReleases == 0)
    }
}

/// A private simulation on both brokers: 20 WDBC hospitals at σ = 4 and ε = 8 each may publish
/// 9 updates apiece; the run stops by itself once all have, and every place a user looks
/// says what they spent.
@Suite(.serialized, .exclusiveBroker, .timeLimit(.minutes(3)))
struct LocalPrivacySimulationTests {
    @Test(arguments: TestTransport.allCases)
    func aPrivateSimulationStopsWhenEveryHospitalSpentItsBudget(on broker: TestTransport) async throws {
        // TableFederationTests' private table: public bounds, Dirichlet 0.5, 5 at once, 60 s at most.
        var config = try TableFederationTests.publicBoundsConfig(clients: 20)
        config.targetAccuracy = 1
        let privacy = try LocalDifferentialPrivacy(clipNorm: 0.5, noiseMultiplier: 4, targetEpsilon: 8)
        #expect(privacy.releasesWithinTarget == 9)
        config.localPrivacy = privacy

        let connector = try broker.connector(name: "fedq-ldp-tests")
        let result = try await Simulation(config: config).run(connect: connector.connect)
        await connector.close()
        let summary = result.summary
        // Stopped by the budgets, long before the 60 s: 20 hospitals × 9 updates, each settled.
        #expect(summary.seconds < 30 && !summary.interrupted)
        #expect(summary.updatesPublished == 180)
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == 180)
        let local = try #require(summary.localPrivacy)
        #expect(local == LocalPrivacySummary(
            epsilon: privacy.epsilon(releases: 9), delta: 1e-5, clip: 0.5, noiseMultiplier: 4, releases: 9, clientsSpent: 20))
        #expect(summary.privacy == nil)

        let json = try #require(try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any])
        for key in ["ldp_epsilon", "ldp_delta", "ldp_clip", "ldp_noise_multiplier", "ldp_releases", "ldp_clients_spent"] {
            #expect(json[key] is NSNumber, "\(key) missing")
        }
        #expect(try JSONDecoder().decode(RunSummary.self, from: summary.jsonData()).localPrivacy == local)
        #expect(result.htmlReport().contains("ε up to 7.588 per client at δ 1e-05, per update (the most updates one client published: 9"))
        #expect(json["ldp_unit"] as? String == "update")
        // Without local DP the keys are there, null.
        let plain = try #require(try JSONSerialization.jsonObject(with: RunSummary().jsonData()) as? [String: Any])
        #expect(plain["ldp_epsilon"] is NSNull && plain["ldp_clients_spent"] is NSNull)
    }

    /// Per record (DP-SGD): a hospital's update costs it according to its own rows (more
    /// rows, a smaller sampling rate, a cheaper update), so each publishes exactly the
    /// updates its rows allow within ε = 8, the run stops by itself, and the model learns.
    @Test(arguments: TestTransport.allCases)
    func perRecordEachHospitalPublishesWhatItsRowsAllow(on broker: TestTransport) async throws {
        var config = try TableFederationTests.publicBoundsConfig(clients: 20)
        config.targetAccuracy = 1
        config.batchSize = 4
        let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 8, unit: .record)
        config.localPrivacy = privacy
        let (train, _) = try config.loadData()
        let rows = try config.clientSettings().makeClients(train: train).map(\.shard.count)
        let allowed = try rows.map { records in
            try #require(privacy.releasesWithinTarget(each: privacy.release(records: records, batchSize: 4, epochs: config.localEpochs)))
        }
        // The Dirichlet split gives hospitals of very different sizes, and so different budgets.
        #expect(allowed.min()! < allowed.max()!, "\(rows) rows allow \(allowed) updates")

        let connector = try broker.connector(name: "fedq-ldp-record-tests")
        let result = try await Simulation(config: config).run(connect: connector.connect)
        await connector.close()
        let summary = result.summary
        #expect(summary.seconds < 30 && !summary.interrupted)
        #expect(summary.updatesPublished == allowed.reduce(0, +))
        let local = try #require(summary.localPrivacy)
        #expect(local.unit == .record && local.releases == allowed.max()! && local.clientsSpent == 20)
        #expect(local.epsilon <= 8 && local.epsilon > 7)
        // The last iterate of a locally private run moves with the arrival order (the noise is
        // not seeded): 84.96% to 97.35% over 80 runs of each of these two tests, median 93-95%
        // (BENCHMARKS.md, local DP). 80% is well clear of that and of the 63% of the majority class.
        #expect(summary.finalAccuracy > 0.80, "final accuracy \(summary.finalAccuracy)")
        let json = try #require(try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any])
        #expect(json["ldp_unit"] as? String == "record")
        #expect(json["ldp_sampling_rate"] is NSNull)
        #expect(try JSONDecoder().decode(RunSummary.self, from: summary.jsonData()).localPrivacy == local)
    }

    /// Per record at one sampling rate for every hospital (`--ldp-sampling-rate`): the row
    /// counts stay private, so an update costs every hospital the same, and each of the 20,
    /// whatever its rows, publishes exactly the updates that fit ε = 8.
    @Test(arguments: TestTransport.allCases)
    func aFixedSamplingRateGivesEveryHospitalTheSameBudget(on broker: TestTransport) async throws {
        var config = try TableFederationTests.publicBoundsConfig(clients: 20)
        config.targetAccuracy = 1
        config.batchSize = 4
        let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 1, targetEpsilon: 8, unit: .record, samplingRate: 0.1)
        config.localPrivacy = privacy
        let (train, _) = try config.loadData()
        let rows = try config.clientSettings().makeClients(train: train).map(\.shard.count)
        #expect(rows.min()! * 3 < rows.max()!, "hospitals of \(rows) rows")
        let releases = Set(rows.map { privacy.release(records: $0, batchSize: 4, epochs: config.localEpochs) })
        #expect(releases.count == 1)
        let allowed = try #require(privacy.releasesWithinTarget(each: try #require(releases.first)))
        #expect(allowed > 1)

        let connector = try broker.connector(name: "fedq-ldp-rate-tests")
        let result = try await Simulation(config: config).run(connect: connector.connect)
        await connector.close()
        let summary = result.summary
        #expect(summary.seconds < 30 && !summary.interrupted)
        #expect(summary.updatesPublished == 20 * allowed)
        #expect(summary.updatesApplied + summary.updatesDroppedStale + summary.updatesRejected == 20 * allowed)
        let local = try #require(summary.localPrivacy)
        #expect(local.unit == .record && local.releases == allowed && local.clientsSpent == 20 && local.samplingRate == 0.1)
        #expect(local.epsilon <= 8 && local.epsilon > 7)
        #expect(summary.finalAccuracy > 0.80, "final accuracy \(summary.finalAccuracy) (see above)")
        let json = try #require(try JSONSerialization.jsonObject(with: summary.jsonData()) as? [String: Any])
        #expect(json["ldp_sampling_rate"] as? Double == 0.1)
        #expect(try JSONDecoder().decode(RunSummary.self, from: summary.jsonData()).localPrivacy == local)
        #expect(result.htmlReport().contains("sampling rate 0.1 for every client"))
    }
}
