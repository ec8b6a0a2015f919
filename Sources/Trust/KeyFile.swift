import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Key and credential files: private keys as PKCS#8 PEM written 0600, public keys as SPKI
/// PEM (both read by `openssl pkey`), credentials as their 117 raw bytes. The only I/O of
/// `Trust`. A write never replaces an existing file: losing an issuer key to a mistyped
/// `fedq keys init` would orphan every credential it issued.
public enum KeyFile {
    public static func readSigningKey(at path: String) throws(TrustError) -> SigningKey {
        do { return try SigningKey(pem: try text(at: path)) } catch { throw error.at(path) }
    }

    public static func readVerifyingKey(at path: String) throws(TrustError) -> VerifyingKey {
        do { return try VerifyingKey(pem: try text(at: path)) } catch { throw error.at(path) }
    }

    public static func readCredential(at path: String) throws(TrustError) -> ClientCredential {
        guard let data = FileManager.default.contents(atPath: path) else { throw .keyFile(path: path, reason: "cannot be read") }
        do { return try ClientCredential(bytes: Array(data)) } catch { throw .keyFile(path: path, reason: "\(error)") }
    }

    /// `directory/client-<id>.key` and `.cred`, checked to belong together.
    public static func readIdentity(directory: String, clientID: UInt64) throws(TrustError) -> ClientIdentity {
        let (keyPath, credentialPath) = identityPaths(directory: directory, clientID: clientID)
        let credential = try readCredential(at: credentialPath)
        guard credential.clientID == clientID else {
            throw .keyFile(path: credentialPath, reason: "the credential is client \(credential.clientID)'s")
        }
        return try ClientIdentity(key: try readSigningKey(at: keyPath), credential: credential)
    }

    public static func identityPaths(directory: String, clientID: UInt64) -> (key: String, credential: String) {
        (directory + "/client-\(clientID).key", directory + "/client-\(clientID).cred")
    }

    /// Writes a private key readable by its owner only (0600 from the moment it exists).
    public static func write(_ key: SigningKey, to path: String) throws(TrustError) {
        try create(path, pemFile(key.pemRepresentation), mode: 0o600)
    }

    public static func write(_ key: VerifyingKey, to path: String) throws(TrustError) {
        try create(path, pemFile(key.pemRepresentation), mode: 0o644)
    }

    public static func write(_ credential: ClientCredential, to path: String) throws(TrustError) {
        try create(path, credential.bytes, mode: 0o644)
    }

    /// Writes a client's key and credential into `directory`.
    public static func write(_ identity: ClientIdentity, directory: String) throws(TrustError) {
        let (keyPath, credentialPath) = identityPaths(directory: directory, clientID: identity.credential.clientID)
        try write(identity.key, to: keyPath)
        try write(identity.credential, to: credentialPath)
    }

    /// PEM ending in a newline, as openssl writes it (swift-crypto's string has none).
    private static func pemFile(_ pem: String) -> [UInt8] {
        Array((pem.hasSuffix("\n") ? pem : pem + "\n").utf8)
    }

    private static func text(at path: String) throws(TrustError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw .keyFile(path: path, reason: "cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw .keyFile(path: path, reason: "not a PEM text file") }
        return text
    }

    /// `O_CREAT | O_EXCL` with `mode`: no window in which a private key is readable by
    /// others, and no existing file is replaced.
    private static func create(_ path: String, _ bytes: [UInt8], mode: mode_t) throws(TrustError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "exists already (remove it first to replace it)" : String(cString: strerror(errno))
            throw .keyFile(path: path, reason: reason)
        }
        defer { close(descriptor) }
        // Exactly `mode`, whatever the umask.
        _ = fchmod(descriptor, mode)
        let written = bytes.withUnsafeBytes { posixWrite(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw .keyFile(path: path, reason: "write failed: \(reason)")
        }
    }
}

/// POSIX `write(2)`, named apart from `KeyFile.write`.
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, buffer, count)
    #else
    Darwin.write(descriptor, buffer, count)
    #endif
}

extension TrustError {
    /// This error with `path` filled in (key parsing does not know the file).
    func at(_ path: String) -> TrustError {
        if case .keyFile(let known, let reason) = self, known.isEmpty { return .keyFile(path: path, reason: reason) }
        return self
    }
}
