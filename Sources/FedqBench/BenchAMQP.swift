import ArgumentParser
import CLISupport
import Foundation
import Messaging
import RabbitMQTransport

/// `fedq bench amqp`: the wrapper's publish-with-confirms + consume-with-acks
/// throughput through one durable queue, beside a plain C loop over
/// librabbitmq (`benchmarks/amqp-c-loop/main.c`) doing the same in the same run.
struct BenchAMQP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amqp",
        abstract: "Publish-with-confirms + consume-with-acks throughput: Swift wrapper vs a plain C loop.")

    @Option(help: "Broker URL, amqp[s]://USER:PASSWORD@HOST:PORT/VHOST (env FEDQ_BROKER).")
    var broker: String?

    /// `--broker`, else `FEDQ_BROKER` (validated before `run`).
    var brokerURL: String? { EnvironmentDefaults.broker(broker) }

    @Option(help: "Comma-separated message body sizes in bytes.")
    var sizes: String = "50000,200000,800000"

    @Option(help: "Comma-separated queue types to measure, each through the wrapper and the C loop: classic, quorum, stream.")
    var queueTypes: String = "classic"

    @Option(help: "Messages per size and run.")
    var messages: Int = 2000

    @Option(help: "Most unconfirmed publishes in flight (both implementations).")
    var window: Int = 64

    @Option(help: "Consumer prefetch (both implementations).")
    var prefetch: UInt16 = 64

    @Option(help: "Deliveries each consumer acks at once, with one multiple ack (both implementations; 1 to --prefetch). An aggregator worker acks a partial's updates this way.")
    var ackEvery: Int = 1

    @Option(help: "Milliseconds from a batch's last delivery to its ack (both implementations): a worker's wait for its partial's confirm.")
    var ackDelayMs: Int = 0

    /// `--ack-every` and `--ack-delay-ms` (validated before `run`).
    var acks: AckBatching {
        get throws(AckBatchingError) { try AckBatching(every: ackEvery, delayMs: ackDelayMs, prefetch: Int(prefetch)) }
    }

    @Flag(help: "Leave the quorum and classic queues in place, empty, at the end (streams are deleted: they keep their messages). Deleting a quorum queue can crash RabbitMQ 3.10's log writer in the middle of whatever runs next.")
    var keepQueues = false

    @Option(help: "Runs per implementation and size; the best run counts (the machine is shared and noisy).")
    var rounds: Int = 2

    @Option(help: "C source of the baseline loop, compiled with cc -O2 -lrabbitmq.")
    var cLoopSource: String = BenchAMQP.defaultCLoopSource

    @Option(help: "Also write the figures as JSON to this path.")
    var json: String?

    static var defaultCLoopSource: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("benchmarks/amqp-c-loop/main.c").path
    }

    var parsedSizes: [Int] { CommaSeparated.integers(sizes, minimum: 1) ?? [] }
    var parsedQueueTypes: [AMQPThroughputRun.QueueType] {
        CommaSeparated.values(queueTypes) { AMQPThroughputRun.QueueType(rawValue: $0) } ?? []
    }

    func validate() throws {
        guard let broker = brokerURL else { throw ValidationError("--broker is required (or set FEDQ_BROKER)") }
        do { try TransportFactory.validate(broker) } catch { throw ValidationError("--broker: \(error)") }
        guard !parsedSizes.isEmpty else { throw ValidationError("--sizes must be positive integers separated by commas") }
        guard !parsedQueueTypes.isEmpty else {
            throw ValidationError("--queue-types must be classic, quorum or stream, separated by commas, got \(queueTypes)")
        }
        guard messages > 0, window > 0, prefetch > 0, rounds > 0 else {
            throw ValidationError("--messages, --window, --prefetch and --rounds must be positive")
        }
        do { _ = try acks } catch { throw ValidationError(error.description) }
        guard FileManager.default.fileExists(atPath: cLoopSource) else {
            throw ValidationError("--c-loop-source: no file at \(cLoopSource)")
        }
    }

    func run() async throws {
        let cLoop = try await AMQPThroughputRun.compileCLoop(source: cLoopSource)
        let acks = try acks
        print("fedq bench amqp: \(messages) messages per run, window \(window), prefetch \(prefetch), acks \(acks), best of \(rounds)")
        print("queue     size_bytes  wrapper_msgs/s  wrapper_MB/s  c_msgs/s  c_MB/s  ratio")
        var results: [AMQPThroughputRun.Comparison] = []
        for queueType in parsedQueueTypes {
            // One queue name per type: a queue's type cannot change under its name.
            let queue = "fedq.bench.amqp.\(queueType.rawValue)"
            var last: AMQPThroughputRun?
            for size in parsedSizes {
                let run = try AMQPThroughputRun(brokerURL: brokerURL!, queue: queue, queueType: queueType, size: size,
                                                messages: messages, window: window, prefetch: prefetch, acks: acks)
                last = run
                var wrapperBest = 0.0
                var cBest = 0.0
                for _ in 0..<rounds {
                    cBest = max(cBest, try await run.measureCLoop(executable: cLoop))
                    wrapperBest = max(wrapperBest, try await run.measureWrapper())
                }
                let comparison = AMQPThroughputRun.Comparison(
                    queueType: queueType, size: size, wrapperSeconds: Double(messages) / wrapperBest,
                    cSeconds: Double(messages) / cBest, messages: messages, acks: acks)
                results.append(comparison)
                print(comparison.line)
            }
            // Leave the broker as it was: a stream keeps its messages until deleted. A quorum
            // queue deleted here can crash RabbitMQ 3.10's segment writer during the next
            // benchmark (`AMQPThroughputRun.freshQueue`): scripts that measure more keep it.
            if !keepQueues || queueType == .stream { try await last?.deleteQueue() }
        }
        if let json {
            try writeJSON(results, to: json)
            print("wrote \(json)")
        }
    }
}
