import FedCore
import Messaging

/// Shard claims on a stream updates path (docs/cluster.md): a worker's announcement reaches
/// the coordinator on the partials queue, behind whatever its predecessor on the shard
/// published, so everything the predecessor got in is judged before the claim moves the
/// shard to its new owner. The claim is checkpointed, then answered in the worker's claim
/// queue, then acknowledged: a crash before the answer brings the announcement back, and answering
/// twice is harmless (the ledger gives the same claim the same start while nothing of its
/// was taken).
extension Coordinator {
    func takeClaim(_ announcement: Result<StreamClaimMessage.Announcement, ModelVerifier.Rejection>, delivery: Delivery) async throws {
        switch announcement {
        case .failure(let rejection):
            try await refuse(delivery, as: "shard claim", rejection)
        case .success(let claim):
            let from = recordClaim(claim)
            logger.info("stream shard claimed", metadata: ["shard": "\(claim.shard)", "claim": "\(claim.claim)", "from": "\(from)"])
            try commitLedger()
            try await publish(answer: StreamClaimMessage.Answer(shard: claim.shard, claim: claim.claim, from: from))
        }
        try await delivery.ack()
    }

    /// A worker found no free shard: asks the worker holding the most to release one, when
    /// the shards are uneven enough (`ShardBalancer`). Nothing to checkpoint: a lost want is
    /// sent again, and the release is only a request.
    func takeWant(_ want: Result<StreamClaimMessage.Want, ModelVerifier.Rejection>, delivery: Delivery) async throws {
        switch want {
        case .failure(let rejection):
            try await refuse(delivery, as: "shard want", rejection)
        case .success(let want):
            if let (shard, claim) = balancer.want(from: want.worker, holders: streamLedger.holders, now: .now) {
                logger.info("stream shard release asked for", metadata: [
                    "shard": "\(shard)", "claim": "\(claim)", "for_worker": "\(want.worker)",
                ])
                try await publish(release: StreamClaimMessage.Release(shard: shard, claim: claim))
            }
        }
        try await delivery.ack()
    }

    /// Counts, logs and parks a broken claim or want.
    private func refuse(_ delivery: Delivery, as what: String, _ rejection: ModelVerifier.Rejection) async throws {
        PipelineMetrics.streamClaimsRejected(rejection.reason).increment()
        logger.warning("\(what) refused, parked in \(PipelineTopology.deadQueue)", metadata: [
            "reason": "\(rejection.reason.name)", "detail": "\(rejection.detail)",
        ])
        try await deadLetter(delivery, reason: rejection.reason, detail: rejection.detail)
    }
}
