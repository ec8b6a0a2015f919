@testable import Roles
import Aggregation
import Foundation
import Learning
import Messaging
import Testing
import Trust
import Wire

/// The worker's rules with an issuer key: only updates signed under an issued credential
/// are added, the rest are refused as `unauthenticated` and booked under their bytes'
/// digest, so a forger copying an honest update's id never costs the honest update.
@Suite struct SignedUpdateTests {
    let spec = try! ModelSpec.synthetic(parameters: 8)
    let issuer = SigningKey()
    let now: UInt64 = 1_800_000_000

    func machine(revocations: Revocations? = nil) -> WorkerStateMachine {
        var settings = WorkerSettings(flushUpdates: 10, staleness: StalenessPolicy(function: .constant), issuer: issuer.publicKey)
        settings.revocations = revocations
        return WorkerStateMachine(spec: spec, settings: settings)
    }

    func client(_ id: UInt64, notAfter: UInt64? = nil, issuer: SigningKey? = nil) -> ClientIdentity {
        .issue(clientID: id, notAfter: notAfter ?? now + 60, by: issuer ?? self.issuer)
    }

    /// An update of `client` (claiming `claimedClient` in its envelope if given), signed by `signer`.
    func update(
        _ value: Float, client: ClientIdentity, id: UpdateID = .random(), claimedClient: UInt64? = nil, signer: SigningKey? = nil
    ) throws -> (body: [UInt8], properties: MessageProperties, id: UpdateID) {
        let header = MessageHeader(
            kind: .clientUpdate, specHash: spec.hash, modelVersion: 0, updateID: id, clientID: claimedClient ?? client.credential.clientID,
            sampleCount: 10, parameterCount: spec.parameterCount, codec: .fp32)
        let body = try Envelope.encode([Float](repeating: value, count: spec.parameterCount), header: header)
        var properties = PipelineMessage.signed(update: PipelineMessage.properties(for: header), body: body, by: client)
        if let signer { properties.headers[MessageProperties.HeaderName.signature] = .bytes(signer.sign(.update(body: body))) }
        return (body, properties, id)
    }

    func refusal(_ decision: WorkerStateMachine.Decision) -> WorkerStateMachine.Refusal? {
        if case .refuse(let refusal) = decision { refusal } else { nil }
    }

    @Test func aSignedUpdateIsAdded() throws {
        var machine = machine()
        let honest = try update(1, client: client(3))
        #expect(machine.receive(honest.body, properties: honest.properties, redelivered: false, unixTime: now) == .added(batches: []))
        #expect(machine.takeBatch()?.partial.updateIDs == [honest.id])
    }

    /// Each way of failing to prove the sender, with the check `x-fedq-detail` names.
    @Test(arguments: ["unsigned", "forged-signature", "unissued-credential", "expired", "other-client-id"])
    func anUnauthenticatedUpdateIsRefusedUnderItsDigest(_ forgery: String) throws {
        var machine = machine()
        var message = try update(1, client: client(3))
        var time = now
        switch forgery {
        case "unsigned": message.properties.headers = [:]
        case "forged-signature": message = try update(1, client: client(3), signer: SigningKey())
        case "unissued-credential": message = try update(1, client: client(3, issuer: SigningKey()))
        case "expired": time = now + 61
        default: message = try update(1, client: client(3), claimedClient: 4)
        }
        let refused = try #require(refusal(machine.receive(message.body, properties: message.properties, redelivered: false, unixTime: time)))
        #expect(refused.reason == .unauthenticated)
        #expect(refused.id == Settlement.fnv1a128(message.body) && refused.id != message.id)
        let expected = [
            "unsigned": "missing-credential", "forged-signature": "bad-signature", "unissued-credential": "credential-not-issued",
            "expired": "credential-expired", "other-client-id": "client-id-mismatch",
        ][forgery]!
        #expect(refused.detail.hasPrefix(expected), "detail \(refused.detail)")
    }

    /// A revoked client's updates are refused as unauthenticated (`credential-revoked`) from
    /// the moment the list names it, the others' still added; taken off the list, it is back.
    @Test func aRevokedClientsUpdatesAreRefusedWhileTheListNamesIt() throws {
        let revocations = Revocations()
        var machine = machine(revocations: revocations)
        let member = client(3)
        let other = client(4)
        let before = try update(1, client: member)
        #expect(machine.receive(before.body, properties: before.properties, redelivered: false, unixTime: now) == .added(batches: []))
        revocations.replace(with: RevocationList(clients: [3]))
        let after = try update(1, client: member)
        let refused = try #require(refusal(machine.receive(after.body, properties: after.properties, redelivered: false, unixTime: now)))
        #expect(refused.reason == .unauthenticated && refused.detail.hasPrefix("credential-revoked"), "\(refused.detail)")
        #expect(refused.id == Settlement.fnv1a128(after.body))
        machine.settleRefused(refused)
        let others = try update(1, client: other)
        #expect(machine.receive(others.body, properties: others.properties, redelivered: false, unixTime: now) == .added(batches: []))
        revocations.replace(with: RevocationList())
        let again = try update(1, client: member)
        // Client 3's second update of this version travels alone (`WorkerRepeatIsolationTests`).
        guard case .added(let batches) = machine.receive(again.body, properties: again.properties, redelivered: false, unixTime: now) else {
            Issue.record("client 3, off the list, was refused")
            return
        }
        #expect(batches.map(\.partial.updateIDs) == [[before.id, others.id], [again.id]])
    }

    /// The forger copies an honest update's id (it arrives first, in the same partial):
    /// the forgery is booked under its digest, the honest update is added under its id.
    @Test func aForgeryCopyingAnHonestIDNeverCostsTheHonestUpdate() throws {
        var machine = machine()
        let honest = try update(2, client: client(3))
        let forged = try update(50, client: client(9, issuer: SigningKey()), id: honest.id)
        let refused = try #require(refusal(machine.receive(forged.body, properties: forged.properties, redelivered: false, unixTime: now)))
        machine.settleRefused(refused)
        #expect(machine.receive(honest.body, properties: honest.properties, redelivered: false, unixTime: now) == .added(batches: []))
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.updateIDs == [honest.id])
        #expect(batch.partial.weightedSum == [Float](repeating: 2, count: spec.parameterCount))
        #expect(batch.settled == [.init(updateID: Settlement.fnv1a128(forged.body), baseVersion: 0, reason: .unauthenticated)])
    }

    /// With shards, a proven client's update must come from its own shard: a replay published
    /// under another routing key (here client 5, slot 5, shard 1 of 4, read from shard 2 and
    /// from shard 0, where the old key `fedq.updates` lands) is refused `misrouted` under its
    /// digest, and the copy read from its own shard is still added. A reassembled chunked
    /// update (no shard) and an unsigned one (its id is only a claim) are not held to one.
    @Test func aSignedUpdateReadFromAnotherShardIsRefusedMisroutedAndItsOwnShardsCopyIsAdded() throws {
        var settings = WorkerSettings(flushUpdates: 10, staleness: StalenessPolicy(function: .constant), issuer: issuer.publicKey)
        settings.shards = try UpdateShards(4)
        var machine = WorkerStateMachine(spec: spec, settings: settings)
        #expect(settings.shards.shard(ofClient: 5) == 1)
        let honest = try update(3, client: client(5))
        for shard in [2, 0] {
            let refused = try #require(refusal(machine.receive(honest.body, properties: honest.properties, redelivered: false, unixTime: now, shard: shard)))
            #expect(refused.reason == .misrouted && refused.id == Settlement.fnv1a128(honest.body))
            #expect(refused.detail == "misrouted: client 5 publishes to shard 1, read from shard \(shard)")
            machine.settleRefused(refused)
        }
        #expect(machine.receive(honest.body, properties: honest.properties, redelivered: false, unixTime: now, shard: 1) == .added(batches: []))
        let chunked = try update(4, client: client(6))
        #expect(machine.receive(chunked.body, properties: chunked.properties, redelivered: false, unixTime: now) == .added(batches: []))
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.updateIDs == [honest.id, chunked.id])
        #expect(batch.settled.map(\.reason) == [.misrouted, .misrouted])
        var unsignedSettings = WorkerSettings(flushUpdates: 10, staleness: StalenessPolicy(function: .constant))
        unsignedSettings.shards = try UpdateShards(4)
        var unsigned = WorkerStateMachine(spec: spec, settings: unsignedSettings)
        #expect(unsigned.receive(honest.body, redelivered: false, unixTime: now, shard: 2) == .added(batches: []))
    }

    /// Garbage claiming an honest update's AMQP message id is booked under its digest, and
    /// the honest update goes in under its own id.
    @Test func malformedBytesUnderACopiedMessageIDAreBookedUnderTheirDigest() throws {
        var machine = WorkerStateMachine(spec: spec, settings: WorkerSettings(flushUpdates: 10, staleness: StalenessPolicy(function: .constant)))
        let honest = try update(1, client: client(3))
        let refused = try #require(refusal(machine.receive(
            TestUpdates.garbage, properties: MessageProperties(messageID: honest.id.hex), redelivered: false)))
        #expect(refused.reason == .malformed && refused.id == Settlement.fnv1a128(TestUpdates.garbage))
        machine.settleRefused(refused)
        #expect(machine.receive(honest.body, properties: honest.properties, redelivered: false) == .added(batches: []))
        let taken = machine.takeBatch()
        let batch = try #require(taken)
        #expect(batch.partial.updateIDs == [honest.id] && batch.settled.map(\.updateID) == [refused.id])
    }
}

/// What model subscribers accept (`ModelVerifier`), without a broker.
@Suite struct ModelVerifierTests {
    let spec = try! ModelSpec.synthetic(parameters: 8)
    let coordinator = SigningKey()

    func delivery(_ body: [UInt8], _ properties: MessageProperties) -> Delivery { TestUpdates.delivery(body, properties) }

    /// Why the verifier refused, or nil when it took the message.
    func rejection<T>(_ result: Result<T, ModelVerifier.Rejection>) -> ModelVerifier.Rejection? {
        if case .failure(let rejection) = result { rejection } else { nil }
    }

    func model(_ version: ModelVersion, signedBy key: SigningKey?) throws -> ([UInt8], MessageProperties) {
        try PipelineMessage.encodeModel(
            GlobalModel(version: version, parameters: [Float](repeating: 1, count: 8), updatesApplied: 1), spec: spec, signedBy: key)
    }

    @Test func signedModelsAndNoticesPass() throws {
        let verifier = ModelVerifier(coordinatorKey: coordinator.publicKey)
        let (body, properties) = try model(1_000_000, signedBy: coordinator)
        #expect(try verifier.check(model: delivery(body, properties), spec: spec).get().version == 1_000_000)
        let notice = PipelineMessage.versionNotice(properties, version: 1_000_000, spec: spec, signedBy: coordinator)
        #expect(try verifier.check(version: delivery([], notice), spec: spec).get() == 1_000_000)
    }

    /// The coordinator's revocation list on a notice: taken when signed by the coordinator
    /// and newer than the one held; a tampered list, another key's or a malformed one is
    /// refused under its reason; an older serial, or no key to verify with, takes nothing.
    @Test func aNoticesRevocationListIsTakenOnlySignedAndNewer() throws {
        let verifier = ModelVerifier(coordinatorKey: coordinator.publicKey)
        let (_, properties) = try model(7, signedBy: coordinator)
        let list = RevocationList(clients: [12, 40])
        func notice(_ signed: PipelineMessage.SignedRevocations, body: [UInt8]? = nil) -> Delivery {
            var notice = PipelineMessage.versionNotice(properties, version: 7, spec: spec, signedBy: coordinator)
            signed.attach(to: &notice)
            return delivery(body ?? signed.body, notice)
        }
        let signed = PipelineMessage.SignedRevocations(list, serial: 1_000, signedBy: coordinator)
        let held = Revocations()
        let taken = try #require(try verifier.check(revocations: notice(signed), newerThan: held).get())
        #expect(taken.list == list && taken.serial == 1_000)
        // The notice's version still verifies with a list on it.
        #expect(try verifier.check(version: notice(signed), spec: spec).get() == 7)
        held.adopt(taken.list, serial: taken.serial)
        #expect(try verifier.check(revocations: notice(signed), newerThan: held).get() == nil)
        let older = PipelineMessage.SignedRevocations(RevocationList(), serial: 999, signedBy: coordinator)
        #expect(try verifier.check(revocations: notice(older), newerThan: held).get() == nil)
        // Newer, but not the coordinator's: an empty list would readmit clients 12 and 40.
        let newer = PipelineMessage.SignedRevocations(RevocationList(), serial: 2_000, signedBy: coordinator)
        let tampered = notice(newer, body: Array("client 1\n".utf8))
        #expect(rejection(verifier.check(revocations: tampered, newerThan: held))?.reason == .unauthenticated)
        let forged = PipelineMessage.SignedRevocations(RevocationList(), serial: 2_000, signedBy: SigningKey())
        #expect(rejection(verifier.check(revocations: notice(forged), newerThan: held))?.reason == .unauthenticated)
        var unsigned = PipelineMessage.versionNotice(properties, version: 7, spec: spec, signedBy: coordinator)
        unsigned.headers[MessageProperties.HeaderName.revocationsSerial] = .int(3_000)
        #expect(rejection(verifier.check(revocations: delivery([], unsigned), newerThan: held))?.detail == TrustError.missingSignature.reasonCode)
        unsigned.headers[MessageProperties.HeaderName.revocationsSerial] = .string("3000")
        #expect(rejection(verifier.check(revocations: delivery([], unsigned), newerThan: held))?.reason == .malformed)
        // Signed, but not a list: refused as malformed, never a crash.
        var garbage = PipelineMessage.versionNotice(properties, version: 7, spec: spec, signedBy: coordinator)
        garbage.headers[MessageProperties.HeaderName.revocationsSerial] = .int(4_000)
        let body = Array("clientele 5\n".utf8)
        garbage.headers[MessageProperties.HeaderName.revocationsSignature] = .bytes(coordinator.sign(.revocations(serial: 4_000, body: body)))
        #expect(rejection(verifier.check(revocations: delivery(body, garbage), newerThan: held))?.reason == .malformed)
        // A worker without the coordinator's key takes no list at all.
        #expect(try ModelVerifier(coordinatorKey: nil).check(revocations: notice(newer), newerThan: held).get() == nil)
        #expect(held.distributed?.serial == 1_000 && held.distributed?.list == list)
    }

    /// A list's serial: milliseconds since 1970, or one more than the last checkpointed
    /// serial when that is larger (a predecessor's clock ran ahead).
    @Test func aListsSerialGrowsWithTheClockAndWithinARun() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(PipelineMessage.SignedRevocations.serial(after: nil, now: now) == 1_800_000_000_000)
        #expect(PipelineMessage.SignedRevocations.serial(after: 1_800_000_000_000, now: now) == 1_800_000_000_001)
        #expect(PipelineMessage.SignedRevocations.serial(after: 5, now: now) == 1_800_000_000_000)
    }

    /// A table federation's model carries its standardisation inside the signed body: the
    /// subscriber gets exactly the coordinator's numbers, and one changed mean (the CRC
    /// resealed, so only the signature can tell) is refused as unauthenticated.
    @Test func aModelsStandardizationIsSignedWithIt() throws {
        let table = try ModelSpec.resolve("dense:4,relu,dense:2", input: .flat(3), classCount: 2)
        let scaling = Standardization(means: [0.5, -3, 120], deviations: [1, 0.25, 40])
        let model = GlobalModel(
            version: 7, parameters: [Float](repeating: 0.5, count: table.parameterCount), updatesApplied: 3, standardization: scaling)
        let (body, properties) = try PipelineMessage.encodeModel(model, spec: table, signedBy: coordinator)
        let verifier = ModelVerifier(coordinatorKey: coordinator.publicKey)
        let received = try verifier.check(model: delivery(body, properties), spec: table).get()
        #expect(received.standardization == scaling)
        #expect(received.parameters == model.parameters)
        var forged = body
        forged[Envelope.headerByteCount + 4] ^= 0x40  // the first mean
        let crc = CRC32C.checksum(forged[..<(forged.count - 4)])
        withUnsafeBytes(of: crc.littleEndian) { forged.replaceSubrange((forged.count - 4)..., with: $0) }
        #expect(rejection(verifier.check(model: delivery(forged, properties), spec: table)) == .init(reason: .unauthenticated, detail: "bad-signature"))
        // Unsigned runs still refuse it by its CRC when the bytes change in transit.
        forged[Envelope.headerByteCount + 5] ^= 0x01
        let unsigned = ModelVerifier(coordinatorKey: nil)
        #expect(rejection(unsigned.check(model: delivery(forged, properties), spec: table))?.detail == "checksum-mismatch")
    }

    /// A table federation's subscribers drop a version without the standardisation (its
    /// weights fit rows nobody could scale), counted as `wrong-model`; MNIST's take it.
    @Test func aTableSubscriberDropsAModelWithoutStandardization() throws {
        let table = try ModelSpec.resolve("dense:4,relu,dense:2", input: .flat(3), classCount: 2)
        let parameters = [Float](repeating: 0.5, count: table.parameterCount)
        let bare = try PipelineMessage.encodeModel(GlobalModel(version: 2, parameters: parameters, updatesApplied: 1), spec: table, signedBy: nil)
        let strict = ModelVerifier(coordinatorKey: nil, requiresStandardization: true)
        #expect(rejection(strict.check(model: delivery(bare.0, bare.1), spec: table)) == .init(reason: .wrongModel, detail: "missing-standardization"))
        #expect(try ModelVerifier(coordinatorKey: nil).check(model: delivery(bare.0, bare.1), spec: table).get().version == 2)
        let scaled = GlobalModel(
            version: 3, parameters: parameters, updatesApplied: 1, standardization: Standardization(means: [0, 1, 2], deviations: [1, 1, 3]))
        let (body, properties) = try PipelineMessage.encodeModel(scaled, spec: table, signedBy: nil)
        #expect(try strict.check(model: delivery(body, properties), spec: table).get().standardization == scaled.standardization)
    }

    @Test func unsignedForgedAndGarbageModelsAreRefused() throws {
        let verifier = ModelVerifier(coordinatorKey: coordinator.publicKey)
        let (body, unsigned) = try model(5, signedBy: nil)
        #expect(rejection(verifier.check(model: delivery(body, unsigned), spec: spec)) == (.init(reason: .unauthenticated, detail: "missing-signature")))
        let (forgedBody, forged) = try model(5, signedBy: SigningKey())
        #expect(rejection(verifier.check(model: delivery(forgedBody, forged), spec: spec)) == (.init(reason: .unauthenticated, detail: "bad-signature")))
        // A notice whose version header was raised after signing.
        let (_, signed) = try model(5, signedBy: coordinator)
        var notice = PipelineMessage.versionNotice(signed, version: 5, spec: spec, signedBy: coordinator)
        notice.headers[MessageProperties.HeaderName.modelVersion] = "6"
        #expect(rejection(verifier.check(version: delivery([], notice), spec: spec)) == (.init(reason: .unauthenticated, detail: "bad-signature")))
        // Without a key, garbage is still dropped, not thrown.
        let open = ModelVerifier(coordinatorKey: nil)
        #expect(rejection(open.check(model: delivery(TestUpdates.garbage, MessageProperties()), spec: spec)) == (.init(reason: .malformed, detail: "bad-magic")))
        #expect(try open.check(model: delivery(body, unsigned), spec: spec).get().version == 5)
    }
}
