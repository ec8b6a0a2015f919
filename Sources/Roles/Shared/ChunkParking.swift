import FedCore
import Messaging
import Wire

extension Transport {
    /// Parks the chunks of a refused or abandoned chunked message in `fedq.dead`, each as it
    /// came with the reason and detail added, so an operator sees every piece. Used by the
    /// worker (updates) and the coordinator (partials), which differ in how they book it.
    func park(chunks: [Delivery], reason: RejectionReason, detail: String) async throws {
        for chunk in chunks {
            try await publish(
                chunk.body, exchange: PipelineTopology.deadExchange, routingKey: "",
                properties: PipelineMessage.deadLettered(chunk.properties, reason: reason, detail: detail), mandatory: false)
        }
    }
}
