/// The exact bytes a FedQueue signature covers: a domain string naming what is signed,
/// then a fixed-size digest or integers (docs/wire-format.md, "Signatures").
///
/// The domain keeps one kind of signature from passing for another: a client's update
/// signature over some bytes is no model signature over the same bytes, whoever holds
/// which key. Signing SHA-256 of the body, not the body, lets a verifier hash the 200 KB
/// once while keeping Ed25519's input small and of fixed size.
public struct SignedStatement: Sendable, Equatable {
    public let bytes: [UInt8]

    /// A client update: `"FDQS-update-v1" ‖ SHA-256(body)`.
    public static func update(body: [UInt8]) -> SignedStatement {
        SignedStatement(bytes: Array("FDQS-update-v1".utf8) + Digest.sha256(body))
    }

    /// A table federation client's statistics message (`FDQS`):
    /// `"FDQS-statistics-v1" ‖ SHA-256(body)`. A domain of its own, so a statistics signature
    /// can never pass for an update's over the same bytes.
    public static func statistics(body: [UInt8]) -> SignedStatement {
        SignedStatement(bytes: Array("FDQS-statistics-v1".utf8) + Digest.sha256(body))
    }

    /// A model version message: `"FDQS-model-v1" ‖ SHA-256(body)`.
    public static func model(body: [UInt8]) -> SignedStatement {
        SignedStatement(bytes: Array("FDQS-model-v1".utf8) + Digest.sha256(body))
    }

    /// A version notice (no body): `"FDQS-version-v1" ‖ u64 LE version ‖ u64 LE specHash`,
    /// the two values its headers carry.
    public static func version(_ version: UInt64, specHash: UInt64) -> SignedStatement {
        SignedStatement(bytes: Array("FDQS-version-v1".utf8) + littleEndian(version) + littleEndian(specHash))
    }

    /// A coordinator's answer to a shard claim on a stream updates path (docs/cluster.md):
    /// `"FDQS-claim-v1" ‖ u64 LE shard ‖ u64 LE claim ‖ u64 LE from`, the values its headers
    /// carry. A worker starts reading where this says only if the coordinator said it.
    public static func streamClaim(shard: UInt64, claim: UInt64, from: UInt64) -> SignedStatement {
        SignedStatement(bytes: Array("FDQS-claim-v1".utf8) + littleEndian(shard) + littleEndian(claim) + littleEndian(from))
    }

    /// A coordinator's request that a worker let go of a stream shard, so that a worker
    /// holding fewer can take it (docs/cluster.md, "Rebalancing"):
    /// `"FDQS-release-v1" ‖ u64 LE shard ‖ u64 LE claim`. A domain of its own: a claim
    /// answer's signature never passes for a release of the same claim.
    public static func streamRelease(shard: UInt64, claim: UInt64) -> SignedStatement {
        SignedStatement(bytes: Array("FDQS-release-v1".utf8) + littleEndian(shard) + littleEndian(claim))
    }

    /// The coordinator's revocation list on a version notice (docs/signing.md, "Revoking a
    /// credential"): `"FDQS-revocations-v1" ‖ u64 LE serial ‖ SHA-256(body)`, the body being
    /// the list's canonical text. The serial is signed with it, so an older list replayed
    /// under a newer serial does not verify.
    public static func revocations(serial: UInt64, body: [UInt8]) -> SignedStatement {
        SignedStatement(bytes: Array("FDQS-revocations-v1".utf8) + littleEndian(serial) + Digest.sha256(body))
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
