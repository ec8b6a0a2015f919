import FedCore
import Learning
import Messaging
import Roles
import Wire

/// One malicious client among a simulated fleet: sends `AttackSpec`'s messages at its rate
/// through the fleet's own connection, so they meet exactly what honest updates meet. Each
/// is counted as published, so the books must still balance (published = applied + stale +
/// rejected) with it in the run.
public struct Adversary: Sendable {
    public let attack: AttackSpec
    public let spec: ModelSpec
    public let clientID: UInt64
    public let seed: UInt64

    public init(attack: AttackSpec, spec: ModelSpec, clientID: UInt64, seed: UInt64) {
        self.attack = attack
        self.spec = spec
        self.clientID = clientID
        self.seed = seed
    }

    /// Sends until cancelled; `model` gives the newest global model it received.
    public func run(on transport: any Transport, ledger: PipelineLedger, model: @Sendable () async -> GlobalModel) async throws {
        var generator = SeededGenerator(seed: seed ^ 0xBAD_C1_1E47)
        var previous: UpdateID?
        let interval = Duration.seconds(1 / attack.perSecond)
        var next = ContinuousClock.now + interval
        var sequence = 0
        while !Task.isCancelled {
            try await Task.sleep(until: next)
            next += interval
            let message = try attack.message(
                sequence, model: await model(), spec: spec, clientID: clientID, previous: previous, generator: &generator)
            var properties = MessageProperties()
            if let id = message.id { properties.messageID = id.hex }
            try await transport.publish(
                message.body, exchange: PipelineTopology.updatesExchange, routingKey: UpdateShards.routingKey(client: clientID),
                properties: properties, mandatory: true)
            ledger.recordPublished(bytes: message.body.count)
            previous = message.id
            sequence += 1
        }
    }
}
