import AMQP
import CLISupport
import Foundation
import RabbitMQTransport
import Testing

/// What a user sees when an input is wrong: one line, the flag or file named, the reason
/// in plain words, and never a password or Foundation's error dump.
struct ErrorMessageTests {
    @Test func unreadableAndUnwritablePathsAreOneLine() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/update.msg"
        let read = try #require(throws: CommandError.self) { try CommandError.read(missing) }
        #expect(read.description == "cannot read \(missing): no such file or directory")
        let directory = try #require(throws: CommandError.self) { try CommandError.read(NSTemporaryDirectory()) }
        #expect(directory.description.hasSuffix("it is a directory"))

        let file = NSTemporaryDirectory() + "fedq-not-a-dir-\(UUID().uuidString)"
        try Data([1]).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let notDirectory = try #require(throws: CommandError.self) { try OutputDirectory.prepare(file, flag: "out") }
        #expect(notDirectory.description == "--out: \(file) is a file, not a directory")
        let underFile = try #require(throws: CommandError.self) { try OutputDirectory.prepare(file + "/run", flag: "out") }
        #expect(underFile.description.hasPrefix("--out: cannot create \(file)/run: "))
        for error in [read, directory, notDirectory, underFile] {
            #expect(!error.description.contains("NSCocoaErrorDomain") && !error.description.contains("\n"))
        }
    }

    @Test func brokerURLErrorsNeverShowThePassword() throws {
        #expect(AMQPConfiguration.redacting("amqp://fedq:s3cret@host:5672/%2F") == "amqp://fedq:***@host:5672/%2F")
        #expect(AMQPConfiguration.redacting("amqps://u:p%40ss@h/v?verify=verify_peer") == "amqps://u:***@h/v?verify=verify_peer")
        #expect(AMQPConfiguration.redacting("amqp://host/v") == "amqp://host/v")
        for url in ["amqp://fedq:s3cret@host:99999/%2F", "amqp://fedq:s3cret@host/a/b", "amqp://fedq:s3cret@host/?nope=1"] {
            let error = try #require(throws: TransportFactory.AddressError.self) {
                try TransportFactory.connector(for: url, connectionName: "test")
            }
            #expect(!error.description.contains("s3cret"), "\(error)")
            #expect(error.description.contains("fedq:***@host"), "\(error)")
        }
        let connector = try TransportFactory.connector(for: "amqps://fedq:s3cret@broker.example:5671/fl", connectionName: "test")
        #expect(connector.description == "amqps://fedq@broker.example:5671/fl")
    }

    @Test func verifyNoneIsCalledOutInOneLineWithoutThePassword() throws {
        let unverified = try AMQPConfiguration(url: "amqps://fedq:s3cret@broker.example:5671/fl?verify=verify_none")
        let warning = try #require(TransportFactory.unverifiedWarning(unverified))
        #expect(warning.hasPrefix("warning: amqps://fedq@broker.example:5671/fl has verify=verify_none: "), "\(warning)")
        #expect(warning.contains("certificate and host name are not checked"))
        #expect(!warning.contains("s3cret") && !warning.contains("\n"))
        for url in ["amqps://fedq:s3cret@broker.example/fl", "amqps://b/?verify=verify_peer", "amqp://fedq:s3cret@b/"] {
            #expect(TransportFactory.unverifiedWarning(try AMQPConfiguration(url: url)) == nil, "\(url)")
        }
    }
}
