import AMQP
import FedCore
import Messaging

/// The one place a broker URL becomes a transport: `embedded` is the in-process broker,
/// `amqp://` and `amqps://` are RabbitMQ through the AMQP module. Commands, the simulator
/// and the load test ask this factory, so no other module imports AMQP.
public enum TransportFactory {
    /// Why a broker address cannot be used. Its description never contains a password.
    public struct AddressError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A connector for `url` ("embedded", or an amqp:// or amqps:// URL).
    /// - Parameter connectionName: shown in RabbitMQ's management UI (`fedq worker`…).
    /// - Throws: `AddressError` for a URL the AMQP module cannot parse.
    public static func connector(for url: String, connectionName: String) throws(AddressError) -> TransportConnector {
        if url == "embedded" { return .embedded() }
        let configuration = try configuration(for: url, connectionName: connectionName)
        return TransportConnector(description: configuration.redactedURL) { () throws(TransportError) in
            try await AMQPTransport(configuration: configuration)
        }
    }

    /// Checks that `url` is a usable RabbitMQ address (for up-front option validation).
    public static func validate(_ url: String) throws(AddressError) {
        _ = try configuration(for: url, connectionName: "fedq")
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
