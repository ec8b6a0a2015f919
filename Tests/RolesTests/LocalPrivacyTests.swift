@testable import Roles
import FedCore
import Foundation
import Learning
import Messaging
import Privacy
import Synchronization
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
        defer { try? FileManager.default.removeItem(atPath: file) }
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
        let books = try LocalPrivacyBooks(settings: privacy, file: file)
        for client in UInt64(0)..<4 {
            #expect(!books.permitsRelease(client: client))
            #expect(books.epsilon(client: client) == privacy.epsilon(releases: 2))
        }
        // Kept release by release in the running fleet, and recomputed from the file: the same.
        let spent = LocalPrivacyBooks.Overview(largestEpsilon: privacy.epsilon(releases: 2), mostReleases: 2, clientsSpent: 4)
        #expect(first.overview == spent && books.overview == spent)

        let again = try await runFleet()
        #expect(again.published.isEmpty && again.retired == 4)
        #expect(try await setup.queueStatus(PipelineTopology.updatesQueue).messageCount == 8)
    }

    /// Books that cannot be read stop the process before it publishes; books that cannot be
    /// written stop the release (nothing is booked, so nothing may leave).
    @Test func unreadableOrUnwritableBooksAreTypedErrors() throws {
        let privacy = try LocalDifferentialPrivacy(clipNorm: 1, noiseMultiplier: 4)
        let garbage = Self.temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        try Data("not json".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect { try LocalPrivacyBooks(settings: privacy, file: garbage) } throws: { error in
            guard case .unreadable(let file, _) = error as? LocalPrivacyBooksError else { return false }
            return file == garbage
        }
        try Data(#"{"clients":{"seven":[]}}"#.utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: LocalPrivacyBooksError.unreadable(garbage, "client id 'seven' is not a number")) {
            try LocalPrivacyBooks(settings: privacy, file: garbage)
        }

        let nowhere = NSTemporaryDirectory() + "fedq-no-such-directory-\(UInt64.random(in: 1...UInt64.max))/books.json"
        let books = try LocalPrivacyBooks(settings: privacy, file: nowhere)
        #expect { try books.recordRelease(client: 1) } throws: { error in
            guard case .unwritable(let file, _) = error as? LocalPrivacyBooksError else { return false }
            return file == nowhere
        }
        #expect(books.epsilon(client: 1) == 0 && books.overview.mostReleases == 0)
    }
}
