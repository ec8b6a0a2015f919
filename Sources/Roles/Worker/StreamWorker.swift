import FedCore
import Learning
import Foundation
import Logging
import Messaging
import Trust

/// A worker on a stream updates path (`--updates-queue stream`; docs/cluster.md).
///
/// A stream has no competing consumers, so each shard is read by the one worker holding its
/// claim (`ShardClaim`). This worker claims a free shard every `claimInterval` or so, for as
/// long as there are free ones (a shard is freed when its holder's connection ends, kill -9
/// included), and for each one:
/// announces the claim on the partials queue, waits for the coordinator's answer in the
/// claim queue (checked against `--coordinator-key`), and runs an `AggregatorWorker` on
/// that shard from the answered offset. Chunked updates still come through their quorum
/// queue, read by one more `AggregatorWorker` of this process.
///
/// Everything runs on the session's one connection: when it ends, the claims go with it,
/// `run` returns or throws, and the supervisor starts a new session that claims afresh.
public actor StreamWorker {
    let transport: any Transport
    let spec: ModelSpec
    let settings: WorkerSettings
    let logger: Logger
    /// How often free shards are claimed again.
    let claimInterval: Duration
    /// How long a claim waits for the coordinator's answer before the session gives up
    /// (and its claims with it): a coordinator that is down answers when it is back.
    let answerTimeout: Duration
    /// The running per-shard workers, for `drain` and the counters.
    public private(set) var workers: [AggregatorWorker] = []
    /// This worker process's session, named in its claims and wants: what the coordinator
    /// counts each worker's shards by.
    public nonisolated let session = UInt64.random(in: 1...UInt64.max)
    /// How often a worker that found no free shard says it wants one.
    let wantInterval: Duration
    /// How long a worker leaves a shard it released, for the worker that wanted it.
    let releaseCooldown: Duration

    public init(
        transport: any Transport, spec: ModelSpec, settings: WorkerSettings, claimInterval: Duration = .seconds(1),
        answerTimeout: Duration = .seconds(60), wantInterval: Duration = .seconds(3), releaseCooldown: Duration = .seconds(10),
        logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.wantInterval = wantInterval
        self.releaseCooldown = releaseCooldown
        self.transport = transport
        self.spec = spec
        self.settings = settings
        self.logger = logger
        self.claimInterval = claimInterval
        self.answerTimeout = answerTimeout
    }

    /// Claims and reads shards until cancelled or the connection ends.
    public func run() async throws {
        let chunks = AggregatorWorker(transport: transport, spec: spec, settings: settings, source: .chunks, logger: logger)
        workers.append(chunks)
        try await withThrowingTaskGroup(of: Ended.self) { group in
            group.addTask {
                try await chunks.run()
                return .ended(shard: -1)
            }
            defer { group.cancelAll() }
            var claimed = Set<Int>()
            // Shards this worker released, and when: left to the worker that wanted one.
            var released: [Int: ContinuousClock.Instant] = [:]
            var lastWant: ContinuousClock.Instant?
            while true {
                released = released.filter { ContinuousClock.now - $0.value < releaseCooldown }
                // One new shard per interval at most: workers that start together each get
                // some (W workers serve S ≥ W shards), rather than the first one all of them.
                var took = false
                for shard in 0..<settings.shards.count where !claimed.contains(shard) && released[shard] == nil {
                    guard let claim = try await ShardClaim.take(shard: shard, on: transport) else { continue }
                    claimed.insert(shard)
                    group.addTask { try await self.read(claim) }
                    took = true
                    break
                }
                // None free: say so now and then, and the coordinator has a worker holding two
                // more than this one release one (`ShardBalancer`).
                if !took, claimed.count < settings.shards.count, lastWant.map({ ContinuousClock.now - $0 >= wantInterval }) ?? true {
                    try await transport.publish(
                        [], exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey,
                        properties: StreamClaimMessage.Want(worker: session).properties, mandatory: true)
                    lastWant = .now
                }
                // Jittered, so that two workers started together do not claim in lockstep.
                let interval = claimInterval * Double.random(in: 0.5...1.5)
                group.addTask {
                    try await Task.sleep(for: interval)
                    return .timer
                }
                // Wait for the timer, or for a reader that ended or failed (which ends the
                // session) or released its shard (which this worker then leaves alone a while).
                waiting: while let finished = try await group.next() {
                    switch finished {
                    case .timer:
                        break waiting
                    case .released(let shard):
                        claimed.remove(shard)
                        released[shard] = .now
                    case .ended(let shard):
                        logger.notice("stream shard reader ended", metadata: ["shard": "\(shard)"])
                        return
                    }
                }
            }
        }
    }

    /// How a child task of `run` finished.
    private enum Ended: Sendable {
        /// The claim timer.
        case timer
        /// A shard's reader let its shard go when the coordinator asked.
        case released(shard: Int)
        /// A shard's reader (or the chunks' worker, shard -1) ended: the session ends.
        case ended(shard: Int)
    }

    /// Hands whatever each shard's worker holds to its flusher (the end of a run).
    public func drain() async {
        for worker in workers { await worker.drain() }
    }

    /// Announces `claim`, waits for the coordinator's answer, and reads the shard from there
    /// until the session ends or the coordinator asks for the shard back.
    private func read(_ claim: ShardClaim) async throws -> Ended {
        let answers = try await transport.consume(queue: ShardClaim.queueName(shard: claim.shard), prefetch: 1)
        try await transport.publish(
            [], exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey,
            properties: StreamClaimMessage.Announcement(claim, worker: session).properties, mandatory: true)
        let from = try await answer(to: claim, in: answers)
        await answers.cancel()
        logger.info("stream shard claimed", metadata: ["shard": "\(claim.shard)", "claim": "\(claim.id)", "from": "\(from)"])
        let worker = AggregatorWorker(
            transport: transport, spec: spec, settings: settings, source: .stream(.init(claim: claim, from: from)), logger: logger)
        workers.append(worker)
        // The claim queue stays read. A later answer is the coordinator sending this reader
        // back (a partial it judged a gap): the session then ends, its claims with it, and the
        // next one claims afresh and reads from the coordinator's ledger. A release is the
        // coordinator giving the shard to a worker that has fewer: this reader stops and
        // deletes its claim queue, which frees the shard; the session goes on.
        let later = try await transport.consume(queue: ShardClaim.queueName(shard: claim.shard), prefetch: 1)
        let (key, logger) = (settings.coordinatorKey, logger)
        let ended = try await withThrowingTaskGroup(of: Ended.self) { group in
            group.addTask {
                try await worker.run()
                return .ended(shard: claim.shard)
            }
            group.addTask {
                switch try await Self.nextReply(to: claim, in: later, coordinatorKey: key, logger: logger) {
                case .answer(let back)?:
                    throw TransportError.connectionLost("the coordinator sent stream shard \(claim.shard)'s reader back to \(back.from)")
                case .release?: return .released(shard: claim.shard)
                case nil: return .ended(shard: claim.shard)
                }
            }
            defer { group.cancelAll() }
            return try await group.next() ?? .ended(shard: claim.shard)
        }
        guard case .released = ended else { return ended }
        // Whatever it read and did not get into a confirmed partial, the next claim reads again.
        await worker.stopReading()
        await later.cancel()
        workers.removeAll { $0 === worker }
        try await transport.deleteQueue(ShardClaim.queueName(shard: claim.shard))
        logger.info("stream shard released", metadata: ["shard": "\(claim.shard)", "claim": "\(claim.id)"])
        return ended
    }

    /// The offset the coordinator answered `claim` with, within `answerTimeout`.
    private func answer(to claim: ShardClaim, in answers: Consumer) async throws -> StreamOffset {
        let (key, logger, timeout) = (settings.coordinatorKey, logger, answerTimeout)
        return try await withThrowingTaskGroup(of: StreamOffset?.self) { group in
            group.addTask {
                // A release before the answer cannot be for this claim yet: only answers count here.
                while let reply = try await Self.nextReply(to: claim, in: answers, coordinatorKey: key, logger: logger) {
                    if case .answer(let answer) = reply { return answer.from }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let from = try await group.next() ?? nil else {
                logger.warning("no answer to a stream shard claim: starting a new session", metadata: [
                    "shard": "\(claim.shard)", "waited": "\(timeout)",
                ])
                throw TransportError.closed
            }
            return from
        }
    }

    /// The next answer or release for `claim` in its claim queue (nil when the queue's
    /// consumer ends). Anything else there (forged, broken) is dropped, counted and logged;
    /// another claim's reply (its worker gone before it came) is dropped.
    private static func nextReply(
        to claim: ShardClaim, in answers: Consumer, coordinatorKey: VerifyingKey?, logger: Logger
    ) async throws -> StreamClaimMessage.Reply? {
        for try await delivery in answers {
            try await delivery.ack()
            switch StreamClaimMessage.Reply.read(delivery.properties, coordinatorKey: coordinatorKey) {
            case .success(let reply) where reply.shard == claim.shard && reply.claim == claim.id:
                return reply
            case .success:
                break
            case .failure(let rejection):
                PipelineMetrics.streamClaimsRejected(rejection.reason).increment()
                logger.warning("claim answer dropped", metadata: ["reason": "\(rejection.reason.name)", "detail": "\(rejection.detail)"])
            case nil:
                PipelineMetrics.streamClaimsRejected(.malformed).increment()
            }
        }
        return nil
    }
}
