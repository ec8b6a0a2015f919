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

    public init(
        transport: any Transport, spec: ModelSpec, settings: WorkerSettings, claimInterval: Duration = .seconds(1),
        answerTimeout: Duration = .seconds(60),
        logger: Logger = Logger(label: "fedq", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
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
        // Each child returns the shard it read (nil: the claim timer): a shard's reader that
        // ends (its stream deleted, the connection closed) ends the session.
        try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                try await chunks.run()
                return -1
            }
            defer { group.cancelAll() }
            var claimed = Set<Int>()
            while true {
                // One new shard per interval at most: workers that start together each get
                // some (W workers serve S ≥ W shards), rather than the first one all of them.
                for shard in 0..<settings.shards.count where !claimed.contains(shard) {
                    guard let claim = try await ShardClaim.take(shard: shard, on: transport) else { continue }
                    claimed.insert(shard)
                    group.addTask { try await self.read(claim) }
                    break
                }
                // Jittered, so that two workers started together do not claim in lockstep.
                let interval = claimInterval * Double.random(in: 0.5...1.5)
                group.addTask {
                    try await Task.sleep(for: interval)
                    return nil
                }
                // Wait for the timer, or for a reader that ended or failed (which ends the session).
                while let finished = try await group.next() {
                    guard let shard = finished else { break }
                    logger.notice("stream shard reader ended", metadata: ["shard": "\(shard)"])
                    return
                }
            }
        }
    }

    /// Hands whatever each shard's worker holds to its flusher (the end of a run).
    public func drain() async {
        for worker in workers { await worker.drain() }
    }

    /// Announces `claim`, waits for the coordinator's answer, and reads the shard from there.
    private func read(_ claim: ShardClaim) async throws -> Int {
        let answers = try await transport.consume(queue: ShardClaim.queueName(shard: claim.shard), prefetch: 1)
        try await transport.publish(
            [], exchange: PipelineTopology.partialsExchange, routingKey: PipelineTopology.partialsRoutingKey,
            properties: StreamClaimMessage.Announcement(claim).properties, mandatory: true)
        let from = try await answer(to: claim, in: answers)
        await answers.cancel()
        logger.info("stream shard claimed", metadata: ["shard": "\(claim.shard)", "claim": "\(claim.id)", "from": "\(from)"])
        let worker = AggregatorWorker(
            transport: transport, spec: spec, settings: settings, source: .stream(.init(claim: claim, from: from)), logger: logger)
        workers.append(worker)
        // The claim queue stays read: a later answer is the coordinator sending this reader
        // back (a partial it judged a gap). The session then ends, its claims with it, and the
        // next one claims afresh and reads from the coordinator's ledger.
        let later = try await transport.consume(queue: ShardClaim.queueName(shard: claim.shard), prefetch: 1)
        let (key, logger) = (settings.coordinatorKey, logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            group.addTask {
                if let back = try await Self.nextAnswer(to: claim, in: later, coordinatorKey: key, logger: logger) {
                    throw TransportError.connectionLost("the coordinator sent stream shard \(claim.shard)'s reader back to \(back)")
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        return claim.shard
    }

    /// The offset the coordinator answered `claim` with, within `answerTimeout`.
    private func answer(to claim: ShardClaim, in answers: Consumer) async throws -> StreamOffset {
        let (key, logger, timeout) = (settings.coordinatorKey, logger, answerTimeout)
        return try await withThrowingTaskGroup(of: StreamOffset?.self) { group in
            group.addTask { try await Self.nextAnswer(to: claim, in: answers, coordinatorKey: key, logger: logger) }
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

    /// The offset of the next answer to `claim` in its claim queue (nil when the queue's
    /// consumer ends). Anything else there (forged, broken) is dropped, counted and logged;
    /// another claim's answer (its worker gone before it came) is dropped.
    private static func nextAnswer(
        to claim: ShardClaim, in answers: Consumer, coordinatorKey: VerifyingKey?, logger: Logger
    ) async throws -> StreamOffset? {
        for try await delivery in answers {
            try await delivery.ack()
            switch StreamClaimMessage.Answer.read(delivery.properties, coordinatorKey: coordinatorKey) {
            case .success(let answer) where answer.shard == claim.shard && answer.claim == claim.id:
                return answer.from
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
