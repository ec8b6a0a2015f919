import ArgumentParser
import Learning

/// Which model to train, the same flags wherever a model is built (`train`, `bench train`,
/// `simulate` and every role, through `SharedOptions`): a built-in name, layers the user
/// writes, or a JSON model file (docs/models.md). Every process of one federation must be
/// given the same model, since updates carry its spec hash.
public struct ModelOptions: ParsableArguments {
    @Option(help: """
        mlp, cnn, synthetic:P, or layers separated by commas: dense:UNITS, relu, \
        conv2d:FILTERS:KERNEL, maxpool2 (e.g. "dense:64,relu,dense:10"; docs/models.md). Default: mlp on MNIST, \
        dense:64,relu,dense:CLASSES on a --dataset table.
        """)
    public var model: String?
    @Option(help: "A JSON model file (docs/models.md), instead of --model.")
    public var modelFile: String?
    @Option(help: "What one sample is to --model layers or --model-file: N values or an image CxHxW (default: the dataset's, 1x28x28 for MNIST).")
    public var input: String?

    public init() {}

    /// The flags `EnvironmentDefaults` fills from `FEDQ_*` variables.
    public static let environmentFlags = ["model", "model-file", "input"]

    /// Nothing to check alone: whether a model fits depends on the data, so each command
    /// checks `modelSpec(dataset:classCount:)` once it knows its dataset's shape.
    public func validate() throws {}

    /// The model when none is named: the mlp for MNIST's images, and for a table (whose
    /// width the mlp's 784 inputs would not fit) one hidden layer of 64, which on WDBC
    /// matches the centralised logistic-regression reference (BENCHMARKS.md).
    static func defaultModel(for dataset: SampleShape, classCount: Int) -> String {
        dataset == .mnist ? "mlp" : "dense:64,relu,dense:\(classCount)"
    }

    /// The model over samples of `dataset` shape with `classCount` classes (MNIST's by default).
    /// - Throws: `ValidationError` naming the flag and the problem, in one line.
    public func modelSpec(dataset: SampleShape = .mnist, classCount: Int = 10) throws -> ModelSpec {
        if model != nil, modelFile != nil { throw ValidationError("give --model or --model-file, not both") }
        var shape = dataset
        if let input {
            do { shape = try SampleShape(parsing: input) } catch { throw ValidationError("--input: \(error)") }
            guard shape.count == dataset.count else {
                throw ValidationError(
                    "--input: \(ModelSpecError.inputMismatch(input: input, values: shape.count, dataset: dataset.count))")
            }
        }
        let (flag, spec): (String, ModelSpec)
        do {
            if let modelFile {
                // The file's "input", when it has one, says what it was written for.
                (flag, spec) = ("--model-file", try ModelSpec.load(file: modelFile, input: shape, classCount: classCount))
            } else {
                (flag, spec) = ("--model", try ModelSpec.resolve(model ?? Self.defaultModel(for: dataset, classCount: classCount), input: shape, classCount: classCount))
            }
        } catch {
            throw ValidationError("\(modelFile == nil ? "--model" : "--model-file"): \(error)")
        }
        // A synthetic model (`synthetic:P`, the load test's) is never trained or evaluated:
        // it has a parameter count and no data to fit.
        guard spec.inputSize == dataset.count || spec.name == "synthetic" else {
            throw ValidationError("\(flag): the model takes \(spec.inputSize) values per sample, the dataset has \(dataset.count)")
        }
        return spec
    }
}
