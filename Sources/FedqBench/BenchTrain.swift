import ArgumentParser
import CLISupport
import Foundation
import Learning

/// `fedq bench train`: training throughput of the learning engine per batch
/// size, the figure compared with PyTorch in BENCHMARKS.md.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training samples/s on MNIST per batch size.",
        discussion: """
            Each batch size gets a fresh model, a warm-up run, then timed runs of 200 steps (shuffle, batch \
            gather, forward, backward, SGD step) over consecutive slices of the training set. With --steps the timed part is exactly \
            that many steps, which scripts/bench-train.sh runs under valgrind twice to count heap \
            allocations per step.
            """
    )

    @OptionGroup(title: "Model (docs/models.md)")
    var modelOptions: ModelOptions
    @Option(help: "Comma-separated batch sizes.")
    var batches = "10,32,64"
    @Option(help: "OpenBLAS threads.")
    var threads = 1
    @Option(help: "Minimum timed seconds per batch size.")
    var seconds = 3.0
    @Option(help: "Time exactly this many steps per batch size instead of --seconds.")
    var steps: Int?
    @Option(help: "SGD learning rate.")
    var lr: Float = 0.01
    @Option(help: "SGD momentum (0 = plain SGD, the federated clients' optimiser).")
    var momentum: Float = 0
    @Option(help: "Directory with the MNIST gzip IDX files.")
    var data = "data/mnist"
    @Option(help: "Time one evaluation of this many samples after training (0: none).")
    var evaluationSamples = 10_000
    @Option(help: "Write the figures as JSON to this path.")
    var json: String?

    private var batchSizes: [Int] { CommaSeparated.integers(batches, minimum: 1) ?? [] }

    func validate() throws {
        _ = try modelOptions.modelSpec()  // MNIST
        guard !batchSizes.isEmpty else {
            throw ValidationError("--batches must be positive integers separated by commas, got \(batches)")
        }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard steps.map({ $0 > 0 }) ?? true else { throw ValidationError("--steps must be positive") }
        guard evaluationSamples >= 0 else { throw ValidationError("--evaluation-samples must be >= 0") }
        do { _ = try SGD(learningRate: lr, momentum: momentum) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        BLASThreads.set(threads)
        let trainSet = try MNIST.load(directory: data, images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz")
        let spec = try modelOptions.modelSpec()
        let model = spec.name
        let optimizer = try SGD(learningRate: lr, momentum: momentum)
        var results: [BenchTrainResult] = []
        for batch in batchSizes {
            let network = Network(spec: spec, seed: 1)
            var generator = SeededGenerator(seed: 2)
            // Warm-up: grows every workspace to this batch size, and with
            // --steps also the sample-order buffer to the timed run's length.
            let timedIndices = steps.map { count in (0..<(count * batch)).map { $0 % trainSet.count } }
            try network.train(
                on: trainSet, indices: timedIndices ?? Array(0..<min(trainSet.count, 5 * batch)), epochs: 1, batchSize: batch,
                optimizer: optimizer, generator: &generator)
            let clock = ContinuousClock()
            let start = clock.now
            var samples = 0
            var stepCount = 0
            if let timedIndices {
                let summary = try network.train(
                    on: trainSet, indices: timedIndices, epochs: 1, batchSize: batch, optimizer: optimizer, generator: &generator)
                samples = summary.samples
                stepCount = summary.steps
            } else {
                // Runs of 200 steps over consecutive slices of the training set,
                // so that a slow model is not held to a whole epoch.
                var first = 0
                while (clock.now - start).seconds < seconds {
                    let slice = (first..<(first + 200 * batch)).map { $0 % trainSet.count }
                    first = (first + 200 * batch) % trainSet.count
                    let summary = try network.train(
                        on: trainSet, indices: slice, epochs: 1, batchSize: batch, optimizer: optimizer, generator: &generator)
                    samples += summary.samples
                    stepCount += summary.steps
                }
            }
            let elapsed = (clock.now - start).seconds
            let result = BenchTrainResult(
                model: model, batch: batch, threads: threads, steps: stepCount, samples: samples, seconds: elapsed,
                samplesPerSecond: Double(samples) / elapsed, microsecondsPerStep: elapsed * 1e6 / Double(stepCount))
            print(
                String(
                    format: "%@ batch %3d  %9.0f samples/s  %7.1f us/step  (%d steps, %.1f s, %d thread(s))",
                    model, batch, result.samplesPerSecond, result.microsecondsPerStep, stepCount, elapsed, threads))
            fflush(nil)
            results.append(result)
        }
        // The evaluator scores every model version on the 10,000 test images.
        if evaluationSamples > 0 {
            let network = Network(spec: spec, seed: 1)
            let evaluationSet = Array(0..<min(evaluationSamples, trainSet.count))
            _ = try network.evaluate(on: trainSet, indices: evaluationSet)
            let clock = ContinuousClock()
            let start = clock.now
            _ = try network.evaluate(on: trainSet, indices: evaluationSet)
            print(String(format: "%@ evaluate %d samples: %.1f ms", model, evaluationSet.count, (clock.now - start).seconds * 1e3))
        }
        if let json {
            try writeJSON(results, to: json)
        }
    }
}

/// One batch size's figures in `fedq bench train --json`.
struct BenchTrainResult: Encodable {
    var model: String
    var batch: Int
    var threads: Int
    var steps: Int
    var samples: Int
    var seconds: Double
    var samplesPerSecond: Double
    var microsecondsPerStep: Double
}
