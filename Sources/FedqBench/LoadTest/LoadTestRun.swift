import Foundation
import Histogram
import Learning
import Messaging
import Report
import Roles
import Synchronization
import Trust
import Wire

/// Everything `fedq loadtest` measured, as printed and written to `--json` and
/// `DIR/loadtest.json` (which `fedq report DIR` renders).
struct LoadTestResult: Codable {
    struct Latency: Codable {
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double
        var mean: Double
    }

    struct RoleCPU: Codable {
        var role: String
        /// CPU seconds during the run.
        var cpuSeconds: Double
        /// Share of one core over the measured window (1 = a whole core).
        var cores: Double
    }

    var parameters: Int
    var codec: String
    var messageBytes: Int
    var publishers: Int
    var workers: Int
    var buffer: Int
    var flushUpdates: Int
    var flushMs: Int
    var targetRate: Double?
    /// Updates were signed and verified (`--sign`).
    var signed: Bool?
    /// The workers ran without their defences (`--defences-off`).
    var defencesOff: Bool?
    /// The workers sent fp32 partials (`--exact-partials`).
    var exactPartials: Bool?
    /// Client ids the updates were spread over (`--clients`; nil in files from before it was set).
    var clients: Int?
    var updatesPublished: Int
    /// Updates the coordinator settled, whatever became of them (applied, stale or refused).
    var updatesAggregated: Int
    /// Settled updates that were refused, by reason (`updates.csv`'s names): a load test of an
    /// honest fleet refuses none; `rate-limited` ones say the fleet was too small for its rate.
    var rejectedByReason: [String: Int]?
    var seconds: Double
    /// Aggregated updates over the time from the first publish to the last settlement: the
    /// pipeline's end-to-end rate, its drain (the last partials and version) included.
    var updatesPerSecond: Double
    var mbPerSecond: Double
    /// Published updates over the time from the first publish to the last confirm: the rate
    /// the broker accepted them at, without the pipeline's drain after the last publish.
    /// Equal to the end-to-end rate when the workers kept up (`queueDepth` near 0), less
    /// the drain; nil in files from before it was measured.
    var acceptedPerSecond: Double?
    /// Bytes every disk of the machine wrote during the run (`MachineDisk`), and those over
    /// the bytes published: with the broker on this machine, how many times it wrote each
    /// update (nil where the machine does not say).
    var diskBytesWritten: Double?
    var diskBytesPerPublishedByte: Double?
    var latencyMs: Latency
    /// Latency histogram: (upper bound in ms, count) per bucket.
    var latencyHistogram: [[Double]]
    /// (seconds since the first publish, updates aggregated in that bucket per second).
    var throughput: [[Double]]
    /// (seconds since the first publish, ready messages in `fedq.q.updates`).
    var queueDepth: [[Double]]
    var cpu: [RoleCPU]
    var rawUpdatesPerSecond: Double?
    var rawMbPerSecond: Double?
    var ratioToRaw: Double?
    /// CPU during the raw run: the publishers and consumers (this process) and the broker.
    var rawCpu: [RoleCPU]?
}

/// One load test: the coordinator and W workers as processes of their own, P
/// publishers in this process sending one encoded update re-stamped with fresh ids,
/// and the coordinator's `updates.csv` telling when each update was aggregated.
struct LoadTestRun {
    var broker: TransportConnector
    var brokerURL: String
    var parameters: Int
    var codec: CodecSpec
    var publishers: Int
    /// Publishes each publisher keeps awaiting their confirms at once.
    var inFlight: Int
    var rate: Double?
    var workers: Int
    var updates: Int?
    var seconds: Double?
    var buffer: Int
    var flushUpdates: Int
    var flushMs: Int
    var raw: Bool
    /// Sign every update and have the workers verify them.
    var sign: Bool = false
    /// Client ids the updates are spread over, signed or not (`--clients`).
    var clients: UInt64 = Self.defaultClients
    var out: String
    /// The broker's own process, for its CPU (nil: every `beam.smp` on this host).
    var brokerPID: Int32? = nil
    /// Workers without their defences against hostile updates (`--defences-off`).
    var defencesOff = false
    /// Workers with `--exact-partials`.
    var exactPartials = false
    /// The workers' `--return-shelf` (nil: their default).
    var returnShelf: Int?
    /// The update queues (`--update-shards`).
    var shards: UpdateShards = .single
    var progress: @Sendable (_ published: Int, _ aggregated: Int, _ elapsed: Double) -> Void

    func run() async throws -> LoadTestResult {
        let spec = try ModelSpec.synthetic(parameters: parameters)
        let (template, header) = try Self.template(spec: spec, codec: codec)
        try? FileManager.default.removeItem(atPath: out + "/coordinator")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        let setup = try await broker.connect()
        // An earlier run's `--updates-queue` may have left queues of another type: this run's
        // broker is its own, so they are replaced.
        try await PipelineTopology.declareReplacingUpdateQueues(on: setup, shards: shards)
        try await PipelineTopology.purge(on: setup, shards: shards)
        let clients = try sign ? Self.signingClients(clients, issuerKeyFile: out + "/issuer.pub") : []
        let roles = try startRoles()
        do {
            try await waitForConsumers(setup)
            let result = try await measure(
                spec: spec, template: template, header: header, clients: clients, setup: setup, roles: roles)
            for role in roles { await role.stop() }
            await setup.close()
            return try await withRaw(result, bytes: template.count)
        } catch {
            for role in roles { await role.stop() }
            await setup.close()
            throw error
        }
    }

    /// One client update of the run's size: small values, as real deltas are.
    static func template(spec: ModelSpec, codec: CodecSpec) throws -> ([UInt8], MessageHeader) {
        var generator = SeededGenerator(seed: 7)
        let values = (0..<spec.parameterCount).map { _ in Float.random(in: -1e-2...1e-2, using: &generator) }
        let header = MessageHeader(
            kind: .clientUpdate, specHash: spec.hash, modelVersion: 0, sampleCount: 600, localSteps: 60,
            parameterCount: spec.parameterCount, codec: codec)
        return (try Envelope.encode(values, header: header), header)
    }

    /// How many client ids load-test updates take turns over by default, signed or not: more
    /// than a version's updates, so that no client sends two updates a version, as no client
    /// of a real fleet does; the per-client limit (`--max-client-rate`, per worker and per
    /// aggregate) then refuses none of them.
    static let defaultClients: UInt64 = 1_000

    /// Signing clients minted in memory from a throwaway issuer, whose public key the
    /// workers get in `issuerKeyFile`, one per fleet client id, so the workers' credential
    /// cache works as it would for a fleet.
    static func signingClients(_ count: UInt64, issuerKeyFile: String) throws -> [ClientIdentity] {
        let issuer = SigningKey()
        try? FileManager.default.removeItem(atPath: issuerKeyFile)
        try KeyFile.write(issuer.publicKey, to: issuerKeyFile)
        let notAfter = UInt64(Date().timeIntervalSince1970) + 86_400
        return (0..<count).map { ClientIdentity.issue(clientID: $0, notAfter: notAfter, by: issuer) }
    }

    /// The coordinator and workers find the broker in `FEDQ_BROKER` (`EnvironmentDefaults`),
    /// not in a `--broker` flag: their command lines are readable by every user of the machine.
    private func startRoles() throws -> [RoleProcess] {
        let environment = ["FEDQ_BROKER": brokerURL]
        let shared = [
            "--model", "synthetic:\(parameters)", "--strategy", "fedbuff:\(buffer)", "--update-shards", "\(shards.count)",
            "--updates-queue", shards.queueType.rawValue,
        ]
        // The coordinator holds --max-client-rate across the workers, so it is told too.
        let defences = defencesOff ? ["--clip", "off", "--sample-share", "0", "--max-client-rate", "0"] : []
        var roles = [
            try RoleProcess(
                name: "coordinator",
                arguments: ["coordinator"] + shared + defences + ["--checkpoint", out + "/coordinator", "--max-buffer-wait-ms", "200"],
                environment: environment, log: out + "/coordinator.log")
        ]
        for index in 1...workers {
            roles.append(try RoleProcess(
                name: "worker \(index)",
                arguments: ["worker"] + shared + ["--flush-updates", "\(flushUpdates)", "--prefetch", "\(4 * flushUpdates)", "--flush-ms", "\(flushMs)"]
                    + (sign ? ["--issuer-key", out + "/issuer.pub"] : [])
                    + defences
                    + (exactPartials ? ["--exact-partials"] : [])
                    + (returnShelf.map { ["--return-shelf", "\($0)"] } ?? []),
                environment: environment, log: out + "/worker-\(index).log"))
        }
        return roles
    }

    private func waitForConsumers(_ setup: any Transport) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let partials = try await setup.queueStatus(PipelineTopology.partialsQueue).consumerCount
            if try await everyShardIsRead(setup) && partials >= 1 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LoadTestError.rolesDidNotStart(out)
    }

    /// Whether every update shard has its readers: each quorum (or classic) queue all the
    /// workers, each stream a worker holding its claim. (RabbitMQ counts no consumers on a
    /// stream; a claim queue held by another connection answers a passive declare with 405.
    /// What a stream holds before its reader starts is read anyway, from the start.)
    private func everyShardIsRead(_ setup: any Transport) async throws -> Bool {
        for shard in 0..<shards.count {
            if shards.queueType == .stream {
                do {
                    _ = try await setup.queueStatus(ShardClaim.queueName(shard: shard))
                    return false  // declared by nobody else, or by this connection: unclaimed
                } catch .resourceLocked {
                    continue
                } catch .notFound {
                    return false
                }
            } else if try await setup.queueStatus(UpdateShards.queue(shard)).consumerCount != workers {
                return false
            }
        }
        return true
    }

    private func measure(
        spec: ModelSpec, template: [UInt8], header: MessageHeader, clients: [ClientIdentity], setup: any Transport, roles: [RoleProcess]
    ) async throws -> LoadTestResult {
        let cpuWindow = Self.cpuWindow(roles: roles, ownRole: "publishers (this process)", brokerPID: brokerPID)
        let diskBefore = MachineDisk.bytesWritten
        let published = PublishLog()
        var connections: [any Transport] = []
        for _ in 0..<publishers { connections.append(try await broker.connect()) }
        let started = Date().timeIntervalSince1970
        let clock = ContinuousClock.now
        let deadline = seconds.map { clock + .seconds($0) }
        let total = updates
        let perLaneRate = rate.map { $0 / Double(publishers * inFlight) }
        var depth: [[Double]] = []
        let logPath = out + "/coordinator/updates.csv"

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (connection, lane) in connections.flatMap({ connection in (0..<inFlight).map { (connection, $0) } }) {
                group.addTask {
                    var sent = 0
                    while true {
                        if let deadline, ContinuousClock.now >= deadline { return }
                        guard let sequence = published.claim(upTo: total) else { return }
                        if let perLaneRate {
                            let due = clock + .seconds((Double(sent) + Double(lane) / Double(inFlight)) / perLaneRate)
                            if due > .now { try await Task.sleep(until: due) }
                        }
                        let id = UpdateID.random()
                        var stamped = header
                        stamped.updateID = id
                        // The clients take turns, as a fleet whose clients each send one update a
                        // version would: none sends a second before all the others have sent one,
                        // which is what the roles' per-client rate limit expects of real traffic.
                        // Signed: each update as one of the clients, its signature made here (in the timed loop).
                        let turn = UInt64(sequence) % self.clients
                        let client = clients.isEmpty ? nil : clients[Int(turn)]
                        stamped.clientID = client?.credential.clientID ?? turn
                        let body = try Envelope.restamped(template, updateID: id, clientID: stamped.clientID)
                        var properties = PipelineMessage.properties(for: stamped)
                        if let client { properties = PipelineMessage.signed(update: properties, body: body, by: client) }
                        published.record(id.hex, at: Date().timeIntervalSince1970)
                        if body.count > Chunk.defaultChunkSize {
                            // A model over 4 MiB of updates (`--parameters 10000000`): as a client sends it.
                            try await connection.publishChunkedUpdate(body, properties: properties, chunkSize: Chunk.defaultChunkSize)
                        } else {
                            try await connection.publish(
                                body, exchange: PipelineTopology.updatesExchange, routingKey: UpdateShards.routingKey(client: stamped.clientID),
                                properties: properties, mandatory: true)
                        }
                        published.confirmed(at: Date().timeIntervalSince1970)
                        sent += 1
                    }
                }
            }
            // Queue depth and progress while publishing.
            let sampler = Task {
                var samples: [[Double]] = []
                while !Task.isCancelled {
                    var ready = 0
                    if shards.queueType == .stream {
                        // A stream keeps what was read: what waits is what is not settled yet.
                        ready = max(0, published.count - Self.settledCount(logPath))
                    } else {
                        for queue in shards.queues { ready += (try? await setup.queueStatus(queue).messageCount) ?? 0 }
                    }
                    let elapsed = Date().timeIntervalSince1970 - started
                    samples.append([elapsed, Double(ready)])
                    progress(published.count, Self.settledCount(logPath), elapsed)
                    try? await Task.sleep(for: .milliseconds(250))
                }
                return samples
            }
            try await group.waitForAll()
            // Everything published must be aggregated: that is the run's accounting.
            let sent = published.count
            let settleBy = ContinuousClock.now + .seconds(60)
            while Self.settledCount(logPath) < sent {
                guard ContinuousClock.now < settleBy else {
                    sampler.cancel()
                    throw LoadTestError.notAggregated(published: sent, aggregated: Self.settledCount(logPath), log: logPath)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            sampler.cancel()
            depth = await sampler.value
        }
        for connection in connections { await connection.close() }

        let records = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").compactMap(SettlementRecord.init(line:))
        let sentTimes = published.times
        var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        var lastSettled = started
        // One pass over the settlements of this run's updates: latency, the end, and the count
        // of each kind.
        var aggregated = 0
        var refused: [String: Int] = [:]
        for record in records {
            guard let sentAt = sentTimes["\(record.id)"] else { continue }
            _ = histogram.record(UInt64(max(0, record.time - sentAt) * 1_000_000))
            lastSettled = max(lastSettled, record.time)
            aggregated += 1
            if let reason = record.reason { refused[reason.name, default: 0] += 1 }
        }
        let wall = max(1e-6, lastSettled - started)
        let cpu = cpuWindow.close()
        let diskWritten = MachineDisk.bytesWritten.flatMap { after in diskBefore.map { after - $0 } }
        let milliseconds = { (micros: UInt64) in Double(micros) / 1000 }
        return LoadTestResult(
            parameters: spec.parameterCount, codec: codec.description, messageBytes: template.count, publishers: publishers,
            workers: workers, buffer: buffer, flushUpdates: flushUpdates, flushMs: flushMs, targetRate: rate, signed: sign,
            defencesOff: defencesOff, exactPartials: exactPartials, clients: Int(self.clients), updatesPublished: sentTimes.count,
            updatesAggregated: aggregated,
            rejectedByReason: refused, seconds: wall, updatesPerSecond: Double(aggregated) / wall,
            mbPerSecond: Double(aggregated) * Double(template.count) / 1e6 / wall,
            acceptedPerSecond: Double(sentTimes.count) / max(1e-6, published.lastConfirm - started),
            diskBytesWritten: diskWritten,
            diskBytesPerPublishedByte: diskWritten.map { $0 / Double(max(1, sentTimes.count * template.count)) },
            latencyMs: .init(
                p50: milliseconds(histogram.valueAtPercentile(50)), p90: milliseconds(histogram.valueAtPercentile(90)),
                p99: milliseconds(histogram.valueAtPercentile(99)), max: milliseconds(histogram.max), mean: histogram.mean / 1000),
            latencyHistogram: Self.buckets(histogram),
            throughput: RateSeries.perSecond(records.map(\.time), from: started, to: started + wall, bucket: max(0.05, wall / 40))
                .map { [$0.x, $0.y] },
            queueDepth: depth, cpu: cpu)
    }

    /// Adds the broker's ceiling for the same bytes: the same publishers (connections and
    /// publishes in flight) and as many consumers as workers, through one quorum queue as
    /// the updates go, with confirms and acks but no decoding and no aggregation.
    private func withRaw(_ result: LoadTestResult, bytes: Int) async throws -> LoadTestResult {
        guard raw else { return result }
        var result = result
        let messages = max(1000, min(result.updatesPublished, 20_000))
        let queue = "fedq.loadtest.raw"
        let setup = try await broker.connect()
        try await setup.declareQueue(QueueDeclaration(name: queue, arguments: QueueArguments(queueType: .quorum)))
        try await setup.purgeQueue(queue)
        var connections: [any Transport] = []
        for _ in 0..<(publishers + workers) { connections.append(try await broker.connect()) }
        let body = [UInt8](repeating: 0xA5, count: bytes)
        let cpuWindow = Self.cpuWindow(roles: [], ownRole: "publishers and consumers (this process)", brokerPID: brokerPID)
        let claims = PublishLog()
        let received = PublishLog()
        let start = ContinuousClock.now
        var consumers: [Consumer] = []
        for connection in connections[publishers...] {
            consumers.append(try await connection.consume(queue: queue, prefetch: 2 * flushUpdates))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for deliveries in consumers {
                group.addTask {
                    for try await delivery in deliveries {
                        try await delivery.ack()
                        _ = received.claim(upTo: nil)
                        if received.claimed >= messages { return }
                    }
                }
            }
            for publisher in connections[..<publishers] {
                for _ in 0..<inFlight {
                    group.addTask {
                        while claims.claim(upTo: messages) != nil {
                            try await publisher.publish(body, exchange: "", routingKey: queue, properties: MessageProperties(), mandatory: true)
                        }
                    }
                }
            }
            while received.claimed < messages { try await Task.sleep(for: .milliseconds(5)) }
            for consumer in consumers { await consumer.cancel() }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - start).seconds
        result.rawCpu = cpuWindow.close()
        for connection in connections { await connection.close() }
        try await setup.deleteQueue(queue)
        await setup.close()
        result.rawUpdatesPerSecond = Double(messages) / elapsed
        result.rawMbPerSecond = Double(messages * bytes) / 1e6 / elapsed
        result.ratioToRaw = result.updatesPerSecond / (Double(messages) / elapsed)
        return result
    }

    /// CPU of the role processes, this process, the broker (RabbitMQ's `beam.smp`) and the
    /// whole machine, from now until the window is closed.
    /// The broker is its own pid when given (a host may run other RabbitMQ nodes, whose
    /// CPU is not this broker's), else every `beam.smp` on the host, and says which.
    static func cpuWindow(roles: [RoleProcess], ownRole: String, brokerPID: Int32?) -> CPUWindow {
        let brokerPIDs = brokerPID.map { [$0] } ?? ProcessCPU.pids(named: "beam.smp")
        let broker = brokerPID.map { "broker (pid \($0))" } ?? "broker (all beam.smp)"
        return CPUWindow(names: roles.map(\.name) + [ownRole, broker, "machine (all cores busy)"]) {
            roles.map(\.cpuSeconds) + [ProcessCPU.own, brokerPIDs.compactMap(ProcessCPU.seconds).reduce(0, +), ProcessCPU.machineBusy]
        }
    }

    /// Lines of the coordinator's `updates.csv` after its header. Read four times a second
    /// while publishing, so the count runs over the raw bytes (iterating `Data` byte by byte
    /// was 7% of the publishers' CPU).
    static func settledCount(_ path: String) -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        let lines = data.withUnsafeBytes { $0.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } }
        return max(0, lines - 1)
    }

    /// Latency histogram in doubling millisecond buckets.
    static func buckets(_ histogram: Histogram<UInt64>) -> [[Double]] {
        var result: [[Double]] = []
        var lower: UInt64 = 0
        var upper: UInt64 = 1000
        while lower <= histogram.max {
            result.append([Double(upper) / 1000, Double(histogram.count(within: lower...(upper - 1)))])
            lower = upper
            upper *= 2
        }
        return result
    }
}

enum LoadTestError: Error, CustomStringConvertible {
    case rolesDidNotStart(String)
    case notAggregated(published: Int, aggregated: Int, log: String)

    var description: String {
        switch self {
        case .rolesDidNotStart(let out): "the coordinator and workers did not start consuming within 30 s: see \(out)/*.log"
        case .notAggregated(let published, let aggregated, let log):
            "only \(aggregated) of \(published) published updates were aggregated within 60 s (\(log))"
        }
    }
}

/// Publish ids and times shared by the publisher tasks.
private final class PublishLog: Sendable {
    private let state = Mutex<(claimed: Int, times: [String: Double], lastConfirm: Double)>((0, [:], 0))

    var claimed: Int { state.withLock { $0.claimed } }

    /// Takes the next update to publish: its sequence number from 0, nil once `total` are taken.
    func claim(upTo total: Int?) -> Int? {
        state.withLock {
            if let total, $0.claimed >= total { return nil }
            $0.claimed += 1
            return $0.claimed - 1
        }
    }

    func record(_ id: String, at time: Double) { state.withLock { $0.times[id] = time } }

    /// Notes a publish's confirm; the latest is when the broker had accepted them all.
    func confirmed(at time: Double) { state.withLock { $0.lastConfirm = max($0.lastConfirm, time) } }

    var lastConfirm: Double { state.withLock { $0.lastConfirm } }

    var count: Int { state.withLock { $0.times.count } }
    var times: [String: Double] { state.withLock { $0.times } }
}
