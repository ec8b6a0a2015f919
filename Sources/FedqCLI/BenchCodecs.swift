import ArgumentParser
import Foundation
import Wire

/// `fedq bench codecs`: what each codec chain costs in bytes and time, next to a plain axpy
/// measured in the same run, so users can pick a codec and the figures survive a noisy machine.
struct BenchCodecs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codecs",
        abstract: "Measure size, encode speed and decode-and-accumulate speed of each codec chain."
    )

    /// The model architectures whose update sizes the benchmark uses.
    enum Model: String, ExpressibleByArgument, CaseIterable {
        case mlp, cnn

        /// Parameter counts of the `mlp` (784-200-200-10) and `cnn` (McMahan et al.'s 2×conv5 + fc512) models.
        var parameterCount: Int {
            switch self {
            case .mlp: 199_210
            case .cnn: 1_663_370
            }
        }
    }

    static let defaultCodecs = [
        "fp32", "fp16", "int8", "fp32+deflate", "fp16+deflate", "int8+deflate", "topk:0.01", "topk:0.01+fp16",
        "topk:0.01+int8", "topk:0.01+int8+deflate",
    ]

    @Option(help: "Model whose update is encoded: mlp (199,210 parameters) or cnn (1,663,370).")
    var model: Model = .mlp

    @Option(help: "Write the figures as JSON to this path.")
    var json: String?

    @Option(help: "Also write one message per codec to DIR/CODEC.msg (readable by `fedq inspect`).")
    var samples: String?

    @Option(parsing: .upToNextOption, help: "Codec chains to measure (default: a representative set).")
    var codecs: [String] = defaultCodecs

    @Option(help: "Timed batches per figure; the median batch is reported.")
    var batches: Int = 7

    @Option(help: "Seed of the synthetic update and of stochastic rounding.")
    var seed: UInt64 = 1

    func validate() throws {
        for codec in codecs {
            do { _ = try CodecSpec(parsing: codec) } catch { throw ValidationError("--codecs \(codec): \(error)") }
        }
        guard batches >= 1 else { throw ValidationError("--batches must be at least 1") }
    }

    func run() throws {
        let update = benchmarkUpdate(parameterCount: model.parameterCount, seed: seed)
        let report = try CodecBenchmark(update: update, batches: batches, seed: seed).run(
            codecs: codecs.map { try CodecSpec(parsing: $0) })
        print(report.table(model: model.rawValue, parameterCount: update.count))
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

/// The update vector the codec benchmark encodes.
///
/// For now a synthetic stand-in for the difference between two training steps' parameters:
/// heavy-tailed like real deltas (90% Gaussian with σ = 5e-4, 10% Laplace with b = 3e-3), so
/// int8 block scales and top-k selection see outliers as they would in training. Replace the body
/// with a real delta from the learning engine (train one step from a seed, subtract) once it is
/// merged; nothing else in the benchmark depends on how the vector was made.
func benchmarkUpdate(parameterCount: Int, seed: UInt64) -> [Float] {
    var generator = SplitMix64(seed: seed)
    func uniform() -> Double { (Double(generator.next() >> 11) + 0.5) / Double(1 << 53) }
    return (0..<parameterCount).map { _ in
        if uniform() < 0.9 {
            let gaussian = (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
            return Float(5e-4 * gaussian)
        }
        let u = uniform() - 0.5
        return Float(-3e-3 * (u < 0 ? -1.0 : 1.0) * log(1 - 2 * abs(u)))
    }
}
