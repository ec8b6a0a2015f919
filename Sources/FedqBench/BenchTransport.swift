import ArgumentParser
import CLISupport
import Foundation
import Messaging

/// `fedq bench transport`: messages per second through the embedded broker, moved the way the
/// pipeline moves updates (publishers awaiting each confirm, competing consumers acking each
/// delivery under a prefetch), to show the in-process broker is not what limits `fedq simulate`.
struct BenchTransport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transport",
        abstract: "Measure messages/s through the embedded broker per message size."
    )

    @Option(help: "Comma-separated message body sizes in bytes (an mlp int8 update is ~200 KB).")
    var sizes = "50000,200000,800000"
    @Option(help: "Messages published and consumed per size.")
    var messages = 20_000
    @Option(help: "Concurrent publishers, each awaiting every confirm.")
    var publishers = 2
    @Option(help: "Competing consumers on the one queue.")
    var consumers = 2
    @Option(help: "Unacknowledged deliveries per consumer.")
    var prefetch = 16
    @Option(help: "Write the figures as JSON to this path.")
    var json: String?

    private var bodySizes: [Int] { CommaSeparated.integers(sizes, minimum: 0) ?? [] }

    func validate() throws {
        guard !bodySizes.isEmpty else {
            throw ValidationError("--sizes must be byte counts separated by commas, got \(sizes)")
        }
        guard messages > 0 else { throw ValidationError("--messages must be positive") }
        guard publishers > 0, consumers > 0 else { throw ValidationError("--publishers and --consumers must be positive") }
        guard prefetch >= 0 else { throw ValidationError("--prefetch must be 0 (unlimited) or positive") }
    }

    func run() async throws {
        var results: [BenchTransportResult] = []
        for size in bodySizes {
            let broker = EmbeddedBroker()
            let run = TransportThroughput(
                messages: messages, bodyBytes: size, publishers: publishers, consumers: consumers, prefetch: prefetch)
            let result = try await run.run(on: broker.connect())
            await broker.close()
            print(
                String(
                    format: "embedded broker  body %8d B  %6d messages  %.3f s  %9.0f msgs/s", size,
                    result.messagesConsumed, result.seconds, result.messagesPerSecond))
            results.append(
                BenchTransportResult(
                    transport: "embedded", bodyBytes: size, messages: result.messagesConsumed, publishers: publishers,
                    consumers: consumers, prefetch: prefetch, seconds: result.seconds,
                    messagesPerSecond: result.messagesPerSecond))
        }
        if let json {
            try writeJSON(results, to: json)
        }
    }
}

/// One message size's figures in `fedq bench transport --json`.
struct BenchTransportResult: Codable, Equatable {
    var transport: String
    var bodyBytes: Int
    var messages: Int
    var publishers: Int
    var consumers: Int
    var prefetch: Int
    var seconds: Double
    var messagesPerSecond: Double
}
