import Foundation
import Messaging
import RabbitMQTransport
import Testing

/// The brokers a test body runs against, hummingbird's `.router | .live` pattern: the same
/// test, once on the in-process embedded broker and once on the RabbitMQ node of
/// `scripts/test.sh` (which it fails without, never skips). Use as
/// `@Test(arguments: TestTransport.allCases)`.
public enum TestTransport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case embedded
    case rabbitMQ

    public var testDescription: String { rawValue }

    /// A connector for this broker. Each call for `.embedded` makes a fresh broker: close
    /// the connector at the end of the test.
    public func connector(name: String = "fedq-tests") throws -> TransportConnector {
        switch self {
        case .embedded: .embedded()
        case .rabbitMQ: try TestBroker.connector(name: name)
        }
    }
}

/// The RabbitMQ node that `scripts/test.sh` started, as a `Transport`.
public enum TestBroker {
    // Not inlined: inlined into some async tests it crashed the 6.3.1 optimiser
    // (signal 11 while splitting their coroutines in release builds).
    @inline(never)
    public static func connector(name: String = "fedq-tests") throws -> TransportConnector {
        try TransportFactory.connector(for: try TestBrokerNode.url(), connectionName: name)
    }

    public static func connect() async throws -> any Transport {
        try await connector().connect()
    }

    /// A queue name no other test uses.
    public static func uniqueName(_ prefix: String) -> String {
        "fedq.test.\(prefix).\(UUID().uuidString.prefix(8))"
    }
}
