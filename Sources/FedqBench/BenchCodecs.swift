import ArgumentParser
import CLISupport
import Foundation
import Learning
import Messaging
import RabbitMQTransport
import Roles
import Wire

/// `fedq bench codecs`: what each codec chain costs in bytes and time, next to a plain axpy
/// measured in the same run, so users can pick a codec and the figures survive a noisy machine.
struct BenchCodecs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codecs",
        abstract: "Measure size, encode speed and decode-and-accumulate speed of each codec chain."
    )

    /// Every registered value codec alone, with deflate, and after top-k 1% (the quantisers also
    /// with deflate after top-k), in canonical spelling: a newly registered codec is measured
    /// without touching this file.
    static let defaultCodecs: [String] = {
        let values = ValueCodecRegistry.standardSpellings
        let quantisers = ValueCodecRegistry.codecs.filter { $0.standard.isStochastic }.map { $0.standard.description }
        let chains =
            values + values.map { "\($0)+deflate" } + values.map { "topk:0.01+\($0)" }
            + quantisers.map { "topk:0.01+\($0)+deflate" }
        return chains.map { (try? CodecSpec(parsing: $0))?.description ?? $0 }
    }()

    /// The model whose update is encoded: mlp (199,210 parameters), cnn (1,663,370) or any other.
    @OptionGroup(title: "Model (docs/models.md)")
    var modelOptions: ModelOptions

    @Option(help: "Directory with the MNIST gzip IDX files the update is trained on.")
    var data = "data/mnist"

    @Option(help: "Write the figures as JSON to this path.")
    var json: String?

    @Option(help: "Also write one message per codec to DIR/CODEC.msg (readable by `fedq inspect`).")
    var samples: String?

    @Option(parsing: .upToNextOption, help: "Codec chains to measure (default: every registered value codec alone, with deflate and after topk:0.01).")
    var codecs: [String] = defaultCodecs

    @Option(help: "Timed batches per figure; the median batch is reported.")
    var batches: Int = 7

    @Option(help: "Seed of the model initialisation, the local run's shuffling and stochastic rounding.")
    var seed: UInt64 = 1

    func validate() throws {
        _ = try modelOptions.modelSpec()  // MNIST
        for codec in codecs {
            do { _ = try CodecSpec(parsing: codec) } catch { throw ValidationError("--codecs \(codec): \(error)") }
        }
        guard batches >= 1 else { throw ValidationError("--batches must be at least 1") }
    }

    func run() throws {
        let spec = try modelOptions.modelSpec()
        let trainSet = try MNIST.load(directory: data, images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz")
        let update = try clientUpdate(spec: spec, trainSet: trainSet, seed: seed)
        let report = try CodecBenchmark(update: update.delta, specHash: spec.hash, batches: batches, seed: seed).run(
            codecs: codecs.map { try CodecSpec(parsing: $0) })
        print(report.table(model: spec.name, parameterCount: update.delta.count))
        if let json {
            try report.json().write(to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
        if let samples {
            try FileManager.default.createDirectory(atPath: samples, withIntermediateDirectories: true)
            for row in report.rows {
                let path = (samples as NSString).appendingPathComponent("\(row.codec).msg")
                try Data(row.message).write(to: URL(fileURLWithPath: path))
            }
            print("wrote \(report.rows.count) sample messages to \(samples)")
        }
    }
}

/// The update a federated client would send: one local epoch of plain SGD (B = 10, lr 0.05) over
/// 600 samples (a client's share of MNIST among 100) from a fresh model, as `trained − initial`.
/// Real deltas matter here: int8 block scales, top-k index gaps and deflate all depend on them.
private func clientUpdate(spec: ModelSpec, trainSet: Dataset, seed: UInt64) throws -> ModelUpdate {
    let network = Network(spec: spec, seed: seed)
    let initial = network.parameters
    var generator = SeededGenerator(seed: seed &+ 1)
    try network.train(
        on: trainSet, indices: Array(0..<600), epochs: 1, batchSize: 10, optimizer: SGD(learningRate: 0.05),
        generator: &generator)
    return try network.update(from: initial)
}

/// The measurements behind `fedq bench codecs`, kept apart from option parsing.
struct CodecBenchmark {
    struct Row {
        var codec: String
        var message: [UInt8]
        var ratio: Double
        var encodeMBs: Double
        /// Parse + verify (CRC, limits, finite check) + accumulate: what a worker pays per update.
        var accumulateMBs: Double
        /// Accumulate alone on an already verified envelope.
        var accumulateOnlyMBs: Double
    }

    struct Report {
        var axpyMBs: Double
        var rows: [Row]

        func table(model: String, parameterCount: Int) -> String {
            var lines = [
                "codec benchmark: model \(model), \(parameterCount) parameters, MB/s of fp32-equivalent bytes (1 MB = 1e6 B)",
                "plain Float axpy: \(format(axpyMBs)) MB/s",
                pad("codec", 24) + pad("bytes", 10) + pad("ratio", 9) + pad("encode", 10) + pad("dec+acc", 10)
                    + pad("acc-only", 10) + "dec+acc/axpy",
            ]
            for row in rows {
                lines.append(
                    pad(row.codec, 24) + pad("\(row.message.count)", 10) + pad(String(format: "%.2fx", row.ratio), 9)
                        + pad(format(row.encodeMBs), 10) + pad(format(row.accumulateMBs), 10)
                        + pad(format(row.accumulateOnlyMBs), 10) + String(format: "%.0f%%", 100 * row.accumulateMBs / axpyMBs))
            }
            return lines.joined(separator: "\n")
        }

        /// Exactly the shape the issue specifies.
        func json() throws -> Data {
            let object: [String: Any] = [
                "axpy_mb_s": axpyMBs,
                "codecs": rows.map {
                    ["codec": $0.codec, "bytes": $0.message.count, "ratio": $0.ratio, "encode_mb_s": $0.encodeMBs,
                     "accumulate_mb_s": $0.accumulateMBs] as [String: Any]
                },
            ]
            return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        }

        private func format(_ value: Double) -> String { String(format: "%.0f", value) }
        private func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
    }

    let update: [Float]
    let specHash: UInt64
    let batches: Int
    let seed: UInt64

    private var fp32Bytes: Double { Double(4 * update.count) }

    func run(codecs: [CodecSpec]) throws -> Report {
        let axpy = measure(axpyReference())
        var rows: [Row] = []
        for codec in codecs {
            let header = MessageHeader(
                kind: .clientUpdate, specHash: specHash, modelVersion: 1, updateID: UpdateID.random(), clientID: 1,
                sampleCount: 600, localSteps: 60, parameterCount: update.count, codec: codec)
            var generator = SplitMix64(seed: seed)
            let message = try Envelope.encode(update, header: header, using: &generator)
            let encode = measure { _ = try? Envelope.encode(update, header: header, using: &generator) }
            let expectation = ModelExpectation(specHash: specHash, parameterCount: update.count)
            var accumulator = [Float](repeating: 0, count: update.count)
            let full = measure {
                if let envelope = try? Envelope(bytes: message, expecting: expectation) {
                    try? envelope.accumulate(into: &accumulator, weight: 1e-3)
                }
            }
            let envelope = try Envelope(bytes: message, expecting: expectation)
            let only = measure { try? envelope.accumulate(into: &accumulator, weight: 1e-3) }
            rows.append(
                Row(
                    codec: codec.description, message: message,
                    ratio: (fp32Bytes + Double(Envelope.headerByteCount + Envelope.trailerByteCount)) / Double(message.count),
                    encodeMBs: fp32Bytes / encode / 1e6, accumulateMBs: fp32Bytes / full / 1e6,
                    accumulateOnlyMBs: fp32Bytes / only / 1e6))
        }
        return Report(axpyMBs: fp32Bytes / axpy / 1e6, rows: rows)
    }

    /// `acc += w·x` over plain arrays: the memory-bound floor every decoder is compared with.
    private func axpyReference() -> () -> Void {
        var accumulator = [Float](repeating: 0, count: update.count)
        let x = update
        return {
            accumulator.withUnsafeMutableBufferPointer { acc in
                x.withUnsafeBufferPointer { x in
                    for index in 0..<acc.count { acc[index] += 1e-3 * x[index] }
                }
            }
        }
    }

    /// Median seconds per call over `batches` batches of ~40 ms each.
    private func measure(_ body: () -> Void) -> Double {
        body()
        var calls = 1
        var elapsed = time(calls, body)
        while elapsed < 0.04 {
            calls *= 2
            elapsed = time(calls, body)
        }
        var samples = [elapsed / Double(calls)]
        for _ in 1..<batches { samples.append(time(calls, body) / Double(calls)) }
        samples.sort()
        return samples[samples.count / 2]
    }

    private func time(_ calls: Int, _ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { body() }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
