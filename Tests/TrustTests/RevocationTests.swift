import Foundation
import Testing

@testable import Trust

/// Revocation lists: the text format, what a list withdraws, and that the authenticator
/// refuses a withdrawn credential even when it had verified it before.
@Suite struct RevocationTests {
    let issuer = SigningKey()
    let now: UInt64 = 1_800_000_000

    func identity(_ clientID: UInt64) -> ClientIdentity { .issue(clientID: clientID, notAfter: now + 3600, by: issuer) }

    func keyHex(_ identity: ClientIdentity) -> String { identity.credential.publicKey.rawBytes.map { String(format: "%02x", $0) }.joined() }

    /// What the coordinator signs: one spelling per list (sorted, no comments), which
    /// parses back to the same list.
    @Test func theCanonicalTextIsSortedAndReadsBackAsTheSameList() throws {
        let (a, b) = (identity(4), identity(5))
        let list = RevocationList(clients: [30, 2, 100], keys: [b.credential.publicKey.rawBytes, a.credential.publicKey.rawBytes])
        let text = list.canonicalText
        let keys = [keyHex(a), keyHex(b)].sorted()
        #expect(text == "client 2\nclient 30\nclient 100\nkey \(keys[0])\nkey \(keys[1])\n")
        #expect(try RevocationList(text: text) == list)
        #expect(RevocationList().canonicalText.isEmpty)
    }

    /// A worker's file and the coordinator's list both count; a newer coordinator list
    /// replaces the older, an older or equal serial never replaces a newer one, and the
    /// file changing keeps the coordinator's.
    @Test func aWorkerChecksItsOwnListAndTheCoordinatorsNewest() throws {
        let (mine, theirs, later) = (identity(1), identity(2), identity(3))
        let revocations = Revocations(RevocationList(clients: [1]))
        #expect(revocations.distributed == nil && revocations.wouldAdopt(serial: 0))
        #expect(revocations.adopt(RevocationList(clients: [2]), serial: 10))
        #expect(revocations.revokes(mine.credential) && revocations.revokes(theirs.credential))
        #expect(!revocations.revokes(later.credential))
        // Replayed or overtaken: refused, the newer list stays.
        #expect(!revocations.wouldAdopt(serial: 10) && !revocations.adopt(RevocationList(clients: [3]), serial: 10))
        #expect(!revocations.adopt(RevocationList(), serial: 9))
        #expect(revocations.distributed?.serial == 10 && revocations.revokes(theirs.credential))
        // The coordinator withdrew client 2's revocation and added client 3.
        #expect(revocations.adopt(RevocationList(clients: [3]), serial: 11))
        #expect(!revocations.revokes(theirs.credential) && revocations.revokes(later.credential))
        // The worker's file changed: the coordinator's list still counts.
        revocations.replace(with: RevocationList())
        #expect(!revocations.revokes(mine.credential) && revocations.revokes(later.credential))
        #expect(revocations.own.isEmpty && revocations.distributed?.list == RevocationList(clients: [3]))
    }

    @Test func theTextFormatNamesClientsAndKeys() throws {
        let lost = identity(9)
        let list = try RevocationList(text: """
            # lost and left
            client 3   # left the federation
              client 18446744073709551615

            key \(keyHex(lost))  # a lost phone
            """)
        #expect(list.clients == [3, .max])
        #expect(list.keys == [lost.credential.publicKey.rawBytes])
        #expect(RevocationList.line(revokingKeyOf: lost.credential) == "key \(keyHex(lost))")
        #expect(try RevocationList(text: "").isEmpty && RevocationList(text: "# nothing\n\n").isEmpty)
    }

    @Test(arguments: [
        ("client 3\nclient three", TrustError.revocationList(line: 2, reason: "`three` is not a client id (a decimal number)")),
        ("client -1", .revocationList(line: 1, reason: "`-1` is not a client id (a decimal number)")),
        ("client 3 4", .revocationList(line: 1, reason: "expected `client ID` or `key HEX`, got 3 words")),
        ("\n\nkey abcd", .revocationList(line: 3, reason: "a key is 64 hex digits (an Ed25519 public key), got 4 characters")),
        ("key " + String(repeating: "zz", count: 32), .revocationList(line: 1, reason: "a key is 64 hex digits (an Ed25519 public key), got 64 characters")),
        ("user 3", .revocationList(line: 1, reason: "`user` is neither `client` nor `key`")),
    ])
    func aBadLineIsNamed(text: String, error: TrustError) {
        #expect(throws: error) { try RevocationList(text: text) }
    }

    @Test func aListRevokesByClientOrByKey() throws {
        let left = identity(3)
        let lost = identity(9)
        let reissued = identity(9)  // the same client, a new key
        let list = try RevocationList(text: "client 3\nkey \(keyHex(lost))")
        #expect(list.revokes(left.credential))
        #expect(list.revokes(lost.credential))
        #expect(!list.revokes(reissued.credential))
        #expect(!list.revokes(identity(4).credential))
    }

    /// A credential verified (and cached) before it was revoked is refused from the next
    /// update on, and taken again once the list lets it go.
    @Test func aRevokedCredentialIsRefusedEvenWhenCached() throws {
        let client = identity(9)
        let revocations = Revocations()
        var authenticator = UpdateAuthenticator(issuer: issuer.publicKey, revocations: revocations)
        func check() -> Result<ClientCredential, TrustError> {
            let body = Array("an update".utf8)
            let signature = client.sign(update: body)
            return Result { () throws(TrustError) in
                try authenticator.authenticate(body: body, credential: signature.credential, signature: signature.signature, now: now)
            }
        }
        #expect(try check().get().clientID == 9)
        revocations.replace(with: RevocationList(clients: [9]))
        #expect(throws: TrustError.revoked(clientID: 9)) { try check().get() }
        #expect(TrustError.revoked(clientID: 9).reasonCode == "credential-revoked")
        revocations.replace(with: RevocationList(keys: [client.credential.publicKey.rawBytes]))
        #expect(throws: TrustError.revoked(clientID: 9)) { try check().get() }
        revocations.replace(with: RevocationList())
        #expect(try check().get().clientID == 9)
    }
}
