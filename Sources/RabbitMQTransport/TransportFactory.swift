import AMQP
import FedCore
import Foundation
import Messaging

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

    /// Checks that `url` is a usable RabbitMQ address, or list of them (for up-front
    /// option validation).
    public static func validate(_ url: String) throws(AddressError) {
        for node in try nodeURLs(url) { _ = try configuration(for: node, connectionName: "fedq") }
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

    static func configuration(for url: String, connectionName: String) throws(AddressError) -> AMQPConfiguration {
        do {
            var configuration = try AMQPConfiguration(url: url)
            configuration.connectionName = connectionName
            return configuration
        } catch {
            throw AddressError(description: "'embedded' or an amqp:// or amqps:// URL: \(error)")
        }
    }
}
