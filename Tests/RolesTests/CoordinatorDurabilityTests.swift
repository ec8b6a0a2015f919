@testable import Roles
import Messaging
import Report
import Simulation
import Aggregation
import Foundation
import Learning
import Testing
import Trust
import Wire

/// The coordinator's durable state: the checkpoint file, the update log, the window
/// of settled ids, and what a restarted coordinator does with redelivered partials.
@Suite struct CoordinatorDurabilityTests {
    let spec = try! ModelSpec.synthetic(parameters: 64)

    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedq-store-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func state(version: ModelVersion, ids: [UpdateID]) throws -> CoordinatorState {
        var optimizer = ServerOptimizer(.adam(learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-8))
        var model = [Float](repeating: 0.5, count: spec.parameterCount)
        try optimizer.step(&model, delta: (0..<spec.parameterCount).map { Float($0) * 1e-3 })
        var accounting = AggregationAccounting()
        for _ in ids { accounting.recordApplied(staleness: 1) }
        accounting.recordRejected(.malformed)
        var window = SettledIndex(stalenessHorizon: 4, refusalWindow: 8)
        for (index, id) in ids.enumerated() { window.insert(id, base: index % 2 == 0 ? version : nil, current: version) }
        return CoordinatorState(
            model: GlobalModel(version: version, parameters: model, updatesApplied: ids.count), optimizer: optimizer,
            accounting: accounting, settledIDs: window, strategy: "fedbuff:10")
    }

    @Test func checkpointRoundTripsEveryField() throws {
        let store = try CoordinatorStore(directory: try scratch())
        let ids = (0..<5).map { _ in UpdateID.random() }
        let saved = try state(version: 7, ids: ids)
        try store.commit(saved, spec: spec, records: ids.map { SettlementRecord(id: $0, disposition: .applied, version: 7) })
        let loaded = try #require(try store.load(spec: spec, strategy: "fedbuff:10", stalenessHorizon: 4))
        #expect(loaded.model.version == 7 && loaded.model.updatesApplied == 5)
        #expect(loaded.settledIDs.versionedCount == 3 && loaded.settledIDs.refusals.count == 2)
        #expect(loaded.model.parameters == saved.model.parameters)
        #expect(loaded.optimizer == saved.optimizer)
        #expect(loaded.accounting == saved.accounting)
        #expect(loaded.settledIDs == saved.settledIDs)
        let log = try String(contentsOfFile: store.logPath, encoding: .utf8).split(separator: "\n")
        #expect(log.first.map(String.init) == SettlementRecord.header.trimmingCharacters(in: .newlines))
        #expect(log.dropFirst().compactMap(SettlementRecord.init(line:)).map(\.id) == ids)
    }

    /// The serial of the coordinator's revocation list is kept in its checkpoint directory
    /// before the list goes out: a successor (a restart, a standby on another host) whose clock is behind still
    /// signs a larger serial, so the workers take its list.
    @Test func aSuccessorSignsALargerRevocationSerialEvenWithItsClockBehind() async throws {
        let store = try CoordinatorStore(directory: try scratch())
        let key = SigningKey()
        let broker = EmbeddedBroker()
        let (transport, listener) = (broker.connect(), broker.connect())
        try await PipelineTopology.declare(on: transport)
        let notices = try await PipelineTopology.subscribeToVersions(on: listener)
        var iterator = notices.makeAsyncIterator()
        func coordinator(_ list: RevocationList) throws -> Coordinator {
            try Coordinator(
                transport: transport, spec: spec, initialParameters: [Float](repeating: 0, count: spec.parameterCount),
                strategy: AggregationStrategy(.fedBuff(bufferSize: 2)), optimizer: ServerOptimizer(.sgd(learningRate: 1)), store: store,
                signingKey: key, revocations: Revocations(list))
        }
        // Acknowledged: the subscription holds one unacknowledged notice at a time.
        func serial(of notice: Delivery?) async throws -> Int64? {
            try await notice?.ack()
            return notice?.properties.headers[MessageProperties.HeaderName.revocationsSerial]?.intValue
        }

        try await coordinator(RevocationList(clients: [3])).announce()
        let first = try #require(try await serial(of: try await iterator.next()))
        #expect(store.revocationsSerial() == UInt64(first))
        // A predecessor whose clock ran an hour ahead signed the last list.
        try store.recordRevocationsSerial(UInt64(first) + 3_600_000)
        try await coordinator(RevocationList(clients: [3, 4])).announce()
        let next = try #require(try await serial(of: try await iterator.next()))
        #expect(next == first + 3_600_001)
        for connection in [transport, listener] { await connection.close() }
    }

    @Test func restartCutsTheLogBackToTheCheckpoint() throws {
        let store = try CoordinatorStore(directory: try scratch())
        let first = (0..<3).map { _ in UpdateID.random() }
        try store.commit(try state(version: 1, ids: first), spec: spec, records: first.map { .init(id: $0, disposition: .applied, version: 1) })
        // A crash after the log lines of the next commit were written but before its checkpoint.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: store.logPath))
        handle.seekToEndOfFile()
        handle.write(Data("\(UpdateID.random()),applied,,2,0.0\n".utf8))
        try handle.close()
        _ = try #require(try store.load(spec: spec, strategy: "fedbuff:10"))
        let lines = try String(contentsOfFile: store.logPath, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(lines.compactMap(SettlementRecord.init(line:)).map(\.id) == first)
    }

    /// Issue 16: a coordinator once checkpointed a model of +Inf and every restart exited
    /// again. A non-finite model is never written, and one found on disk (an older
    /// release's) is refused with a line that says so, never resumed from.
    @Test func aNonFiniteModelIsNeverCheckpointedNorResumedFrom() throws {
        let store = try CoordinatorStore(directory: try scratch())
        var broken = try state(version: 2, ids: [])
        broken.model.parameters[5] = .infinity
        #expect(throws: CheckpointError.nonFiniteModel(path: store.checkpointPath)) {
            try store.commit(broken, spec: spec, records: [])
        }
        // One on disk: a sane checkpoint whose parameters are then overwritten with +Inf
        // bit patterns (the checksum recomputed, as a buggy writer would have stored it).
        var sane = try state(version: 2, ids: [])
        sane.model.parameters = [Float](repeating: 0.5, count: spec.parameterCount)
        try store.commit(sane, spec: spec, records: [])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: store.checkpointPath)))
        let half: [UInt8] = [0x00, 0x00, 0x00, 0x3F], infinity: [UInt8] = [0x00, 0x00, 0x80, 0x7F]
        let start = try #require((0..<(bytes.count - 4 * spec.parameterCount)).first { offset in
            (0..<spec.parameterCount).allSatisfy { Array(bytes[(offset + 4 * $0)..<(offset + 4 * $0 + 4)]) == half }
        })
        for index in 0..<spec.parameterCount { bytes.replaceSubrange((start + 4 * index)..<(start + 4 * index + 4), with: infinity) }
        let crc = CRC32C.checksum(bytes[..<(bytes.count - 4)])
        bytes.replaceSubrange((bytes.count - 4)..., with: withUnsafeBytes(of: crc.littleEndian, Array.init))
        try Data(bytes).write(to: URL(fileURLWithPath: store.checkpointPath))
        #expect(throws: CheckpointError.nonFiniteModel(path: store.checkpointPath)) {
            _ = try store.load(spec: spec, strategy: "fedbuff:10")
        }
        #expect(CheckpointError.nonFiniteModel(path: "c").description.contains("refusing to resume"))
    }

    @Test func aBadCheckpointIsATypedErrorNeverAFreshStart() throws {
        let directory = try scratch()
        let store = try CoordinatorStore(directory: directory)
        let ids = [UpdateID.random()]
        try store.commit(try state(version: 3, ids: ids), spec: spec, records: [])
        #expect(throws: CheckpointError.wrongStrategy(path: store.checkpointPath, stored: "fedbuff:10", configured: "fedasync:0.6")) {
            _ = try store.load(spec: spec, strategy: "fedasync:0.6")
        }
        #expect(throws: CheckpointError.wrongModel(path: store.checkpointPath)) {
            _ = try store.load(spec: try ModelSpec.synthetic(parameters: 65), strategy: "fedbuff:10")
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: store.checkpointPath))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: store.checkpointPath))
        #expect(throws: CheckpointError.corrupt(path: store.checkpointPath, reason: "checksum mismatch")) {
            _ = try store.load(spec: spec, strategy: "fedbuff:10")
        }
    }

    @Test func recentIDsEvictTheOldestFirst() {
        var window = RecentIDs(capacity: 3)
        let ids = (0..<5).map { _ in UpdateID.random() }
        for id in ids { window.insert(id) }
        window.insert(ids[4])
        #expect(window.count == 3)
        #expect(!window.contains(ids[0]) && !window.contains(ids[1]))
        #expect(window.oldestFirst == Array(ids[2...]))
    }

    /// A partial as a worker publishes it: the sum of `values`, one entry per id.
    func partial(_ ids: [UpdateID], value: Float = 0.1) throws -> [UInt8] {
        let header = MessageHeader(kind: .partialAggregate, specHash: spec.hash, modelVersion: 0, parameterCount: spec.parameterCount, codec: .fp32)
        let summary = PartialAggregateSummary(
            weightTotal: Double(ids.count), massTotal: Double(ids.count),
            entries: ids.map { .init(updateID: $0, baseVersion: 0) })
        return try Envelope.encode([Float](repeating: value * Float(ids.count), count: spec.parameterCount), header: header, partial: summary)
    }

    @Test func aRestartedCoordinatorSkipsRedeliveriesAndNeverCountsTwice() async throws {
        let broker = EmbeddedBroker()
        let setup = broker.connect()
        try await PipelineTopology.declare(on: setup)
        let directory = try scratch()
        func coordinator() throws -> Coordinator {
            try Coordinator(
                transport: broker.connect(), spec: spec, initialParameters: [Float](repeating: 0, count: spec.parameterCount),
                strategy: AggregationStrategy(.fedAsync(mixing: 1)), optimizer: ServerOptimizer(.sgd(learningRate: 1)),
                store: try CoordinatorStore(directory: directory))
        }
        let (a, b, c) = (UpdateID.random(), UpdateID.random(), UpdateID.random())
        let first = try coordinator()
        var running = Task { try await first.run() }
        try await setup.publish(try partial([a, b]), exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey)
        for _ in 0..<200 where await first.model.version < 1 { try await Task.sleep(for: .milliseconds(10)) }
        running.cancel()
        _ = await running.result

        // As after a crash: the same partial comes again, then one that mixes a settled id
        // with a new one, then a new one.
        let second = try coordinator()
        #expect(await second.model.version == 1)
        running = Task { try await second.run() }
        defer { running.cancel() }
        for body in [try partial([a, b]), try partial([b, c]), try partial([UpdateID.random()])] {
            try await setup.publish(body, exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey)
        }
        for _ in 0..<300 where await second.accounting.settled < 4 { try await Task.sleep(for: .milliseconds(10)) }
        let books = await second.accounting
        #expect(books.applied == 3, "a and b once, then the new one")
        #expect(books.rejected[.duplicate] == 1, "c, inside a partial that also held b")
        #expect(await second.model.version == 2)
        let log = try String(contentsOfFile: directory + "/updates.csv", encoding: .utf8).split(separator: "\n").compactMap(SettlementRecord.init(line:))
        #expect(log.count == 4 && Set(log.map(\.id)).count == 4)
        #expect(try await setup.queueStatus(PipelineTopology.deadQueue).messageCount == 1, "the mixed partial is parked for an operator")
    }
}
