import ArgumentParser
import CLISupport
import Foundation
import Learning
import Report
import Roles

/// `fedq train`: centralised training on MNIST, the baseline that federated
/// runs are compared against, of a built-in model or one the user writes.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model centrally on MNIST or a CSV table and report test metrics."
    )

    @OptionGroup(title: "Model (docs/models.md)")
    var modelOptions: ModelOptions
    @Option(help: "Passes over the 60,000 training images.")
    var epochs = 10
    @Option(help: "Mini-batch size.")
    var batch = 32
    @Option(help: "SGD learning rate.")
    var lr: Float = 0.01
    @Option(help: "Learning-rate schedule over the epochs: cosine (from --lr, lower every epoch) or constant.")
    var lrSchedule = LearningRateSchedule.cosine.rawValue
    @Option(help: "SGD momentum in [0, 1).")
    var momentum: Float = 0.9
    @Option(name: .customLong("weight-decay"), help: "L2 weight decay.")
    var weightDecay: Float = 0
    @Option(help: "Seed for initialisation and shuffling.")
    var seed: UInt64 = 1
    @Option(help: "OpenBLAS threads.")
    var threads = 1
    @Option(help: "Directory with the four MNIST gzip IDX files.")
    var data = "data/mnist"
    @OptionGroup(title: "Data")
    var datasetOptions: DatasetOptions
    @Option(help: "Write the results as JSON to this path.")
    var json: String?

    func validate() throws {
        guard epochs > 0 else { throw ValidationError("--epochs must be positive") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard threads > 0 else { throw ValidationError("--threads must be positive") }
        if datasetOptions.table == nil { _ = try modelOptions.modelSpec() }  // MNIST; a table's shape is known once it is read
        _ = try datasetOptions.publicStandardization()
        guard LearningRateSchedule(rawValue: lrSchedule) != nil else {
            throw ValidationError("--lr-schedule must be cosine or constant, got \(lrSchedule)")
        }
        do { _ = try SGD(learningRate: lr, momentum: momentum, weightDecay: weightDecay) } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        BLASThreads.set(threads)
        let data =
            if let table = datasetOptions.table {
                try TrainingData.csv(
                    path: table.path, label: table.label, testFraction: table.testFraction, seed: seed,
                    standardization: datasetOptions.publicStandardization())
            } else {
                try TrainingData.mnist(directory: self.data)
            }
        let (trainSet, testSet) = (data.train, data.test)
        let spec = try modelOptions.modelSpec(dataset: data.shape, classCount: data.classNames.count)
        let network = Network(spec: spec, seed: seed)
        let schedule = LearningRateSchedule(rawValue: lrSchedule) ?? .cosine
        var generator = SeededGenerator(seed: seed &+ 1)
        print("\(spec)")
        let clock = ContinuousClock()
        var trainingTime = Duration.zero
        var evaluation = try network.evaluate(on: testSet)
        for epoch in 1...epochs {
            let start = clock.now
            // Momentum carries over from epoch to epoch; only the rate changes.
            let optimizer = try SGD(
                learningRate: schedule.rate(epoch: epoch, of: epochs, base: lr), momentum: momentum, weightDecay: weightDecay)
            let summary = try network.train(on: trainSet, epochs: 1, batchSize: batch, optimizer: optimizer, generator: &generator)
            let elapsed = clock.now - start
            trainingTime += elapsed
            evaluation = try network.evaluate(on: testSet)
            print(
                String(
                    format: "epoch %d/%d  train loss %.4f acc %.4f  test loss %.4f acc %.4f  %.0f samples/s",
                    epoch, epochs, summary.meanLoss, summary.accuracy, evaluation.loss, evaluation.accuracy,
                    Double(summary.samples) / elapsed.seconds))
            fflush(nil)  // progress must show when stdout is a file or a pipe
        }
        let samplesPerSecond = Double(epochs * trainSet.count) / trainingTime.seconds
        print(String(format: "test accuracy %.4f  macro-F1 %.4f  %.1f s training", evaluation.accuracy, evaluation.macroF1, trainingTime.seconds))
        let perClass = ClassMetrics.of(evaluation, names: data.classNames) ?? []
        if datasetOptions.table != nil {
            for metrics in perClass {
                print(String(format: "  %@  precision %.4f  recall %.4f  F1 %.4f", metrics.name, metrics.precision, metrics.recall, metrics.f1))
            }
        }
        if let json {
            let report = TrainReport(
                model: spec.name, parameters: spec.parameterCount, specHash: String(spec.hash, radix: 16), epochs: epochs, batch: batch,
                lr: lr, lrSchedule: lrSchedule, momentum: momentum, weightDecay: weightDecay, seed: seed, threads: threads,
                testAccuracy: evaluation.accuracy, testLoss: evaluation.loss, macroF1: evaluation.macroF1,
                perClassF1: evaluation.f1, perClass: perClass, confusionMatrix: evaluation.confusion.counts,
                samplesPerSecond: samplesPerSecond, seconds: trainingTime.seconds)
            try writeJSON(report, to: json)
        }
    }
}

/// The JSON that `fedq train --json` writes.
struct TrainReport: Encodable {
    var model: String
    var parameters: Int
    var specHash: String
    var epochs: Int
    var batch: Int
    var lr: Float
    var lrSchedule: String
    var momentum: Float
    var weightDecay: Float
    var seed: UInt64
    var threads: Int
    var testAccuracy: Double
    var testLoss: Double
    var macroF1: Double
    var perClassF1: [Double]
    var perClass: [ClassMetrics]
    var confusionMatrix: [Int]
    var samplesPerSecond: Double
    var seconds: Double
}

