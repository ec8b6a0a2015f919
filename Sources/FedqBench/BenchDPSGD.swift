import ArgumentParser
import CLISupport
import Foundation
import Learning
import Privacy

/// `fedq bench dp-sgd`: what record-level local DP's training costs against plain SGD, on
/// MNIST, per expected batch size: plain mini-batch SGD, then DP-SGD (Poisson batches,
/// per-example clipping, the production noise on each step's sum) with each example's
/// gradient clipped a whole batch at once (`batched`), one at a time (`one-by-one`), and as
/// training does it (`automatic`: the faster of the two, timed once on the warm-up run).
struct BenchDPSGD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dp-sgd",
        abstract: "Measure DP-SGD's training samples/s on MNIST against plain SGD's.",
        discussion: """
            A client of --rows MNIST rows trains one epoch per run: plain SGD in batches of B, then DP-SGD at \
            sampling rate B / rows for rows / B steps, clipping to 1 and noising at multiplier 1, each way. \
            Each gets a warm-up run, then runs until --seconds have passed; one BLAS thread.
            """
    )

    @OptionGroup(title: "Model (docs/models.md)")
    var modelOptions: ModelOptions
    @Option(help: "Comma-separated (expected) batch sizes.")
    var batches = "64,256"
    @Option(help: "The client's rows (the first of the training set).")
    var rows = 6_000
    @Option(help: "Minimum timed seconds per cell.")
    var seconds = 3.0
    @Option(help: "Directory with the MNIST gzip IDX files.")
    var data = "data/mnist"

    private var batchSizes: [Int] { CommaSeparated.integers(batches, minimum: 1) ?? [] }

    func validate() throws {
        _ = try modelOptions.modelSpec()
        guard !batchSizes.isEmpty else {
            throw ValidationError("--batches must be positive integers separated by commas, got \(batches)")
        }
        guard (1...60_000).contains(rows) else { throw ValidationError("--rows must be in 1...60000, got \(rows)") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        for batch in batchSizes where batch > rows { throw ValidationError("--batches must not exceed --rows (\(rows)), got \(batch)") }
    }

    func run() throws {
        BLASThreads.set(1)
        timeNoise(count: try modelOptions.modelSpec().parameterCount)
        let trainSet = try MNIST.load(directory: data, images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz")
        let spec = try modelOptions.modelSpec()
        let optimizer = try SGD(learningRate: 0.05)
        let indices = Array(0..<rows)
        for batch in batchSizes {
            let rate = Double(batch) / Double(rows)
            let steps = max(1, rows / batch)
            var plainRate = 0.0
            for way in ["plain"] + ExampleClipping.allCases.map(\.rawValue) {
                let network = Network(spec: spec, seed: 1)
                var generator = SeededGenerator(seed: 2)
                var sampler = BulkSystemRandom()
                var noise = BulkSystemRandom()
                func epoch() throws -> Int {
                    guard let clipping = ExampleClipping(rawValue: way) else {
                        return try network.train(
                            on: trainSet, indices: indices, epochs: 1, batchSize: batch, optimizer: optimizer, generator: &generator
                        ).samples
                    }
                    return try network.trainPrivately(
                        on: trainSet, indices: indices, steps: steps, samplingRate: rate, clipNorm: 1, optimizer: optimizer,
                        sampler: &sampler, clipping: clipping
                    ) { GaussianNoise.add(standardDeviation: 1, to: $0, using: &noise) }.samples
                }
                _ = try epoch()
                let clock = ContinuousClock()
                let start = clock.now
                var samples = 0
                while (clock.now - start).seconds < seconds { samples += try epoch() }
                let perSecond = Double(samples) / (clock.now - start).seconds
                if way == "plain" { plainRate = perSecond }
                print(String(
                    format: "%@ batch %4d  %-10@ %9.0f samples/s  %5.2fx plain SGD's time", spec.name, batch, way, perSecond,
                    plainRate / perSecond))
                fflush(nil)
            }
        }
    }

    /// The noise of one step (or one private update) for a model of `count` parameters: the
    /// ziggurat `GaussianNoise` uses, against Box–Muller in Double, its sampler until
    /// 2026-12-07 (kept here only as the reference), both from the production keystream.
    /// Medians of 15 calls each, alternating.
    private func timeNoise(count: Int) {
        var values = [Float](repeating: 0, count: count)
        var generator = BulkSystemRandom()
        let clock = ContinuousClock()
        var (ziggurat, boxMuller) = ([Double](), [Double]())
        for _ in 0..<16 {
            var start = clock.now
            GaussianNoise.add(standardDeviation: 1, to: &values, using: &generator)
            ziggurat.append((clock.now - start).seconds * 1e3)
            start = clock.now
            Self.boxMuller(&values, using: &generator)
            boxMuller.append((clock.now - start).seconds * 1e3)
        }
        func median(_ times: [Double]) -> Double { times.dropFirst().sorted()[7] }
        print(String(format: "noise for %d parameters: ziggurat %.2f ms, Box-Muller %.2f ms (medians of 15)", count, median(ziggurat), median(boxMuller)))
    }

    private static func boxMuller(_ values: inout [Float], using generator: inout some RandomNumberGenerator) {
        var index = 0
        while index < values.count {
            let u1 = Double(generator.next() >> 11 + 1) * 0x1p-53
            let u2 = Double(generator.next() >> 11) * 0x1p-53
            let radius = (-2 * log(u1)).squareRoot()
            let angle = 2 * Double.pi * u2
            values[index] += Float(radius * cos(angle))
            if index + 1 < values.count { values[index + 1] += Float(radius * sin(angle)) }
            index += 2
        }
    }
}
