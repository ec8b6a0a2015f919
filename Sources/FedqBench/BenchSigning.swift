import ArgumentParser
import Foundation
import Trust

/// `fedq bench signing`: what signing costs per update, apart from the broker: SHA-256 of
/// the body, the client's Ed25519 signature, and the worker's checks (one signature
/// verification with the credential cached, two without).
struct BenchSigning: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing",
        abstract: "Time signing and verifying one update of --bytes bytes (SHA-256 + Ed25519)."
    )

    @Option(help: "Update size in bytes (200,000: the mlp's 199,210 parameters as int8).")
    var bytes = 200_000
    @Option(help: "Operations per timed batch.")
    var iterations = 2000
    @Option(help: "Timed batches; the fastest and the median batch are reported.")
    var batches = 5

    func validate() throws {
        guard bytes > 0, iterations > 0, batches > 0 else { throw ValidationError("--bytes, --iterations and --batches must be positive") }
    }

    func run() throws {
        var generator = SystemRandomNumberGenerator()
        let body = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let issuer = SigningKey()
        let client = ClientIdentity.issue(clientID: 1, notAfter: .max, by: issuer)
        let signature = client.sign(update: body)
        let now = UInt64(Date().timeIntervalSince1970)
        var warm = UpdateAuthenticator(issuer: issuer.publicKey)
        var sink = 0
        let rows: [(String, () -> Void)] = [
            ("SHA-256 of the body", { sink &+= Int(Digest.sha256(body)[0]) }),
            ("sign (client: SHA-256 + Ed25519 sign)", { sink &+= Int(client.sign(update: body).signature[0]) }),
            ("verify, credential cached (worker's usual case)", {
                sink &+= Int((try? warm.authenticate(body: body, credential: signature.credential, signature: signature.signature, now: now))?.clientID ?? 0)
            }),
            ("verify, credential not cached (2 Ed25519 verifications)", {
                var cold = UpdateAuthenticator(issuer: issuer.publicKey)
                sink &+= Int((try? cold.authenticate(body: body, credential: signature.credential, signature: signature.signature, now: now))?.clientID ?? 0)
            }),
        ]
        // The fastest batch is the one least disturbed by other work on a shared machine; the
        // median says how disturbed the rest were.
        print("signing an update of \(bytes) bytes; fastest and median of \(batches) batches of \(iterations)")
        for (name, operation) in rows {
            var perOperation: [Double] = []
            for _ in 0..<batches {
                let start = ContinuousClock.now
                for _ in 0..<iterations { operation() }
                perOperation.append((ContinuousClock.now - start).seconds / Double(iterations))
            }
            let sorted = perOperation.sorted()
            print(name.padding(toLength: 58, withPad: " ", startingAt: 0)
                + String(format: "%8.1f µs (median %.1f µs; %.0f per second per core)", sorted[0] * 1e6, sorted[batches / 2] * 1e6, 1 / sorted[0]))
        }
        if sink == 42 { print("") }
    }
}
