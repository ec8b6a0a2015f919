import Foundation
import Testing

/// The TLS-only RabbitMQ node `scripts/test.sh` started with `scripts/tls-node.sh`: mutual
/// TLS, SASL EXTERNAL, a user per role identity. Tests FAIL (never skip) when
/// `FEDQ_TEST_TLS_BROKER` or `FEDQ_TEST_TLS_CERTS` is missing.
public enum TestTLSNode {
    /// How a URL logs in.
    public enum Login: Sendable {
        /// SASL EXTERNAL: the client certificate's common name is the user.
        case external
        /// SASL PLAIN with this user and password (the certificate is still required).
        case plain(user: String, password: String)
    }

    /// The node's URL as the script printed it: EXTERNAL as `fedq-worker`, verified.
    public static func url() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["FEDQ_TEST_TLS_BROKER"],
            "FEDQ_TEST_TLS_BROKER is not set: run the tests through scripts/test.sh (it starts scripts/tls-node.sh)")
    }

    /// The directory of `ca.pem`, `server.pem`, `<identity>.pem/.key`, `untrusted-ca.pem`, `untrusted-client.pem/.key`.
    public static func certificatesDirectory() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["FEDQ_TEST_TLS_CERTS"],
            "FEDQ_TEST_TLS_CERTS is not set: run the tests through scripts/test.sh (scripts/tls-node.sh certs-dir)")
    }

    /// The path of `name` in the certificates directory; fails when it is missing.
    public static func file(_ name: String) throws -> String {
        let directory = try certificatesDirectory()
        let path = directory + "/" + name
        try #require(FileManager.default.fileExists(atPath: path), "no \(name) in \(directory)")
        return path
    }

    /// The node's TLS port, from `url()`.
    public static func port() throws -> Int {
        let url = try url()
        let authority = url.dropFirst("amqps://".count).prefix { $0 != "/" && $0 != "?" }
        return try #require(authority.split(separator: ":").last.flatMap { Int($0) }, "no port in \(url)")
    }

    /// An amqps:// URL for the node.
    /// - Parameters:
    ///   - host: the name connected to; the server certificate names `localhost` only.
    ///   - identity: the client certificate (`fedq-worker` → fedq-worker.pem/.key,
    ///     `untrusted-client`); nil sends none.
    ///   - ca: the CA file trusted (`ca.pem`, `untrusted-ca.pem`); nil gives no cacertfile.
    ///   - verifyNone: adds `verify=verify_none`.
    public static func url(
        host: String = "localhost", identity: String? = "fedq-worker", ca: String? = "ca.pem", verifyNone: Bool = false,
        login: Login = .external
    ) throws -> String {
        var query: [String] = []
        if case .external = login { query.append("auth_mechanism=external") }
        if let ca { query.append("cacertfile=" + escaped(try file(ca))) }
        if let identity {
            query.append("certfile=" + escaped(try file(identity + ".pem")))
            query.append("keyfile=" + escaped(try file(identity + ".key")))
        }
        if verifyNone { query.append("verify=verify_none") }
        let userInfo = if case .plain(let user, let password) = login { "\(user):\(password)@" } else { "" }
        return "amqps://\(userInfo)\(host):\(try port())/%2F?" + query.joined(separator: "&")
    }

    private static func escaped(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "&?#%"))) ?? path
    }
}
