import Roles
import Messaging
import RabbitMQTransport
import Report
import Simulation
import Foundation
import TestSupport
import Synchronization
import Testing
import Trust

/// A deployment of `fedq` role processes against the test broker, in a scratch
/// directory: each role's output, checkpoint and logs land there, so a failing
/// test names the files to read.
final class Deployment: Sendable {
    let directory: String
    let broker: String
    /// Each role's own identity on the test node (`topology/identities.json`): roles run
    /// with least privilege, as deployed; empty on a cluster, whose roles use `broker`.
    let identities: [TestIdentities.User: String]
    private let processes = SharedList()

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The `fedq` binary built beside the test bundle.
    static func binary() throws -> String {
        let path = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fedq").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "no fedq binary at \(path): build it first (scripts/test.sh does)")
        return path
    }

    /// A fresh directory, with the pipeline's queues declared and emptied on `broker`
    /// (default: the test node, as `fedq-admin`, each role then as its own identity; or a
    /// cluster's comma-separated node URLs), with the updates path split over `shards`.
    /// With `fresh`, the pipeline's queues (and every update shard's) are deleted first and
    /// created anew, so their leaders are placed now (`balanced`) rather than where earlier
    /// tests left them, and their type is the one `shards` asks for.
    init(_ name: String, broker: String? = nil, shards: UpdateShards = .single, fresh: Bool = false) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-\(name)-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let broker {
            self.broker = broker
            identities = [:]
        } else {
            self.broker = try await TestIdentities.url(as: .admin)
            var identities: [TestIdentities.User: String] = [:]
            for user in TestIdentities.User.allCases { identities[user] = try await TestIdentities.url(as: user) }
            self.identities = identities
        }
        let setup = try await TransportFactory.connector(for: self.broker, connectionName: "fedq test setup").connect()
        // Every shard's queue, whatever this deployment's count.
        let updateQueues = (0..<UpdateShards.slotCount).map(UpdateShards.queue)
        if fresh {
            // A stream test's `fedq.q.updates.1` would otherwise stay a stream for the quorum tests after it.
            for queue in PipelineTopology.queues(shards: shards).map({ $0.queue.name }) + updateQueues {
                try? await setup.deleteQueue(queue)
            }
        }
        // The update queues may be of another type than `shards` asks (a stream test's).
        try await PipelineTopology.declareReplacingUpdateQueues(on: setup, shards: shards)
        try await PipelineTopology.purge(on: setup, shards: shards)
        await setup.close()
    }

    /// Starts `fedq ARGUMENTS` with the test broker and data in its environment; a role
    /// connects as its own identity (`TestIdentities.User(command:)`), anything else as the
    /// admin, unless `broker` names another URL (e.g. a role's own TLS identity).
    @discardableResult
    func start(_ name: String, _ arguments: [String], broker: String? = nil) throws -> ChildProcess {
        let identity = arguments.first.flatMap(TestIdentities.User.init(command:)).flatMap { identities[$0] }
        let process = try ChildProcess(
            [try Self.binary()] + arguments,
            environment: [
                "FEDQ_BROKER": broker ?? identity ?? self.broker, "FEDQ_DATA": Self.repository + "/data/mnist",
                "FEDQ_RECONNECT_FOR": "60",
            ],
            outputPath: directory + "/\(name).log")
        processes.append(name, process)
        return process
    }

    func process(named name: String) -> ChildProcess? { processes.named(name) }

    /// A signed federation's files under `keys/`, as `fedq keys init` and `fedq keys issue`
    /// write them: `issuer.pub`, `coordinator.key` and `.pub`, and in `clients/` a key and a
    /// credential, valid for an hour, for each of `clients`.
    func writeKeys(clients: Range<UInt64>) throws -> (directory: String, notAfter: UInt64) {
        let keys = directory + "/keys"
        try FileManager.default.createDirectory(atPath: keys + "/clients", withIntermediateDirectories: true)
        let issuer = SigningKey()
        let coordinatorKey = SigningKey()
        try KeyFile.write(issuer.publicKey, to: keys + "/issuer.pub")
        try KeyFile.write(coordinatorKey, to: keys + "/coordinator.key")
        try KeyFile.write(coordinatorKey.publicKey, to: keys + "/coordinator.pub")
        let notAfter = UInt64(Date().timeIntervalSince1970) + 3600
        for id in clients {
            try KeyFile.write(ClientIdentity.issue(clientID: id, notAfter: notAfter, by: issuer), directory: keys + "/clients")
        }
        return (keys, notAfter)
    }

    /// A test that failed half-way leaves no process behind to steal the next test's messages.
    deinit {
        for process in processes.all { process.signal(SIGKILL) }
    }

    /// SIGTERM to everything still running, then SIGKILL to what did not stop within 20 s.
    /// - Returns: each process's exit status after the SIGTERM (nil: it had to be killed).
    @discardableResult
    func stopAll() async -> [String: Int32?] {
        for process in processes.all { process.signal(SIGTERM) }
        var statuses: [String: Int32?] = [:]
        for (name, process) in processes.named {
            let status = await process.wait(timeout: .seconds(20))
            statuses[name] = status
            if status == nil {
                process.signal(SIGKILL)
                _ = await process.wait(timeout: .seconds(5))
            }
        }
        return statuses
    }

    func read(_ path: String) -> String {
        (try? String(contentsOfFile: directory + "/" + path, encoding: .utf8)) ?? ""
    }

    /// Update ids the fleet's broker confirmed (`fleet/published.csv`).
    func published(_ fleet: String = "fleet") -> [String] {
        read(fleet + "/published.csv").split(separator: "\n").dropFirst().map { String($0.prefix(32)) }
    }

    /// The clients of each applied version's updates: the coordinator's log joined with the
    /// fleet's (`published.csv` names each update's client).
    func appliedClientsByVersion(_ fleet: String = "fleet", _ coordinator: String = "coordinator") -> [Int: [String]] {
        var client: [String: String] = [:]
        for line in read(fleet + "/published.csv").split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",")
            if fields.count == 3 { client[String(fields[0])] = String(fields[1]) }
        }
        var byVersion: [Int: [String]] = [:]
        for record in settled(coordinator) where record.disposition == "applied" {
            byVersion[record.version, default: []].append(client[record.id] ?? "unknown \(record.id)")
        }
        return byVersion
    }

    /// The coordinator's log of what became of each update.
    func settled(_ coordinator: String = "coordinator") -> [(id: String, disposition: String, reason: String, version: Int)] {
        read(coordinator + "/updates.csv").split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 5, let version = Int(fields[3]) else { return nil }
            return (String(fields[0]), String(fields[1]), String(fields[2]), version)
        }
    }

    /// Waits until `condition` holds (polling), or fails after `timeout`.
    func waitUntil(_ what: String, timeout: Duration, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            try #require(ContinuousClock.now < deadline, "timed out waiting until \(what); logs in \(directory)")
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Waits until every published id is settled, then checks each is settled exactly once.
    func expectEveryPublishedUpdateSettledOnce(timeout: Duration = .seconds(90)) async throws {
        try await waitUntil("every published update is settled", timeout: timeout) {
            Set(self.published()).isSubset(of: Set(self.settled().map(\.id)))
        }
        let published = self.published()
        let settled = self.settled()
        #expect(Set(published).count == published.count, "the fleet logged an id twice")
        var counts: [String: Int] = [:]
        for record in settled { counts[record.id, default: 0] += 1 }
        let twice = counts.filter { $0.value > 1 }
        #expect(twice.isEmpty, "settled more than once: \(twice.keys.sorted().prefix(5))")
        #expect(Set(settled.map(\.id)) == Set(published), "settled ids differ from published ones")
        // Applied versions only grow along the log.
        let versions = settled.filter { $0.disposition == "applied" }.map(\.version)
        #expect(versions == versions.sorted(), "applied versions go backwards in updates.csv")
    }
}

private final class SharedList: Sendable {
    private let processes = Mutex<[(name: String, process: ChildProcess)]>([])
    func append(_ name: String, _ process: ChildProcess) { processes.withLock { $0.append((name, process)) } }
    var all: [ChildProcess] { processes.withLock { $0.map(\.process) } }
    var named: [(name: String, process: ChildProcess)] { processes.withLock { $0 } }
    func named(_ name: String) -> ChildProcess? { processes.withLock { $0.first { $0.name == name }?.process } }
}
