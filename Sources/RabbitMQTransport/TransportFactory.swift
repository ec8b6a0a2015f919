import AMQP
import FedCore
import Foundation
import Messaging
import Synchronization

/// The one place a broker URL becomes a transport: `embedded` is the in-process broker,
/// `amqp://` and `amqps://` are RabbitMQ through the AMQP module. Commands, the simulator
/// and the load test ask this factory, so no other module imports AMQP.
public enum TransportFactory {
    /// Why a broker address cannot be used. Its description never contains a password.
    public struct AddressError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A connector for `url`: "embedded", an amqp:// or amqps:// URL, or the URLs of a
    /// cluster's nodes separated by commas (each connection goes to one of them, see
    /// `TransportConnector.failover`).
    /// - Parameters:
    ///   - connectionName: shown in RabbitMQ's management UI (`fedq worker`…).
    ///   - password: the identity's password when it is kept out of the URL (read from a
    ///     secret file, so it shows in no command line or environment); it replaces the
    ///     URLs' own.
    /// - Throws: `AddressError` for a URL the AMQP module cannot parse.
    public static func connector(
        for url: String, connectionName: String, password: String? = nil
    ) throws(AddressError) -> TransportConnector {
        if url == "embedded" { return .embedded() }
        var nodes: [TransportConnector] = []
        for node in try nodeURLs(url) {
            var node = try configuration(for: node, connectionName: connectionName)
            if let password { node.password = password }
            let configuration = node
            nodes.append(TransportConnector(description: configuration.redactedURL) { () throws(TransportError) in
                try await AMQPTransport(configuration: configuration)
            })
        }
        return .failover(nodes)
    }

    /// Checks that `url` is a usable RabbitMQ address, or list of them, for the up-front
    /// option validation of one-shot commands (`topology`, `bench amqp`): it parses, and
    /// the TLS files it names can be read. A role's `connector(for:)` does not look for
    /// the files: it retries until they appear (a secret mounted late), and its command
    /// line is checked on machines that do not hold them (`ComposeFileTests`).
    public static func validate(_ url: String) throws(AddressError) {
        for node in try nodeURLs(url) { try checkFiles(of: parse(node, connectionName: "fedq")) }
    }

    /// The node URLs of a comma-separated list (one for a single node).
    static func nodeURLs(_ url: String) throws(AddressError) -> [String] {
        let nodes = url.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !nodes.contains(where: \.isEmpty) else {
            throw AddressError(description: "an empty address in a comma-separated list of broker URLs")
        }
        guard !nodes.contains("embedded") || nodes.count == 1 else {
            throw AddressError(description: "'embedded' cannot be one node of a list")
        }
        return nodes
    }

    /// The configuration a connection to `url` uses. Every command, role and benchmark that
    /// connects comes through here, so this is where `verify=verify_none` is called out
    /// (`unverifiedWarning`), once per URL and process, on stderr.
    static func configuration(for url: String, connectionName: String) throws(AddressError) -> AMQPConfiguration {
        let configuration = try parse(url, connectionName: connectionName)
        if let warning = unverifiedWarning(configuration), warned.withLock({ $0.insert(configuration.redactedURL).inserted }) {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
        return configuration
    }

    /// The one-line warning for a TLS connection that does not verify the broker, or nil.
    /// It quotes the URL without its password.
    public static func unverifiedWarning(_ configuration: AMQPConfiguration) -> String? {
        guard let tls = configuration.tls, !tls.verifyPeer else { return nil }
        return "warning: \(configuration.redactedURL) has verify=verify_none: the broker's certificate and host name "
            + "are not checked, so anyone on the network path can pose as the broker; give cacertfile= and drop verify_none"
    }

    /// The URLs warned about already: a process opening several connections says it once.
    private static let warned = Mutex<Set<String>>([])

    private static func parse(_ url: String, connectionName: String) throws(AddressError) -> AMQPConfiguration {
        var configuration: AMQPConfiguration
        do {
            configuration = try AMQPConfiguration(url: url)
        } catch {
            throw AddressError(description: "'embedded' or an amqp:// or amqps:// URL: \(error)")
        }
        configuration.connectionName = connectionName
        return configuration
    }

    private static func checkFiles(of configuration: AMQPConfiguration) throws(AddressError) {
        guard let tls = configuration.tls else { return }
        let files = [("cacertfile", tls.caCertificatePath), ("certfile", tls.clientCertificatePath), ("keyfile", tls.clientKeyPath)]
        for case let (key, path?) in files where !FileManager.default.isReadableFile(atPath: path) {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw AddressError(description: "\(key)=\(path) in \(configuration.redactedURL): the file \(why)")
        }
    }
}
