/// The two architectures of McMahan et al. 2017 ("Communication-Efficient
/// Learning of Deep Networks from Decentralized Data") for 28x28 MNIST.
extension ModelSpec {
    /// "2NN": 784-200-200-10 with ReLU, 199,210 parameters.
    public static let mlp = try! ModelSpec(
        name: "mlp", inputSize: 784, classCount: 10,
        layers: [.dense(inputs: 784, outputs: 200), .relu, .dense(inputs: 200, outputs: 200), .relu, .dense(inputs: 200, outputs: 10)]
    )

    /// "CNN": 5x5 conv 32, 2x2 max-pool, 5x5 conv 64, 2x2 max-pool, dense 512,
    /// ReLU, 10 logits; 'same' padding as in the TensorFlow tutorial gives the
    /// paper's 1,663,370 parameters.
    public static let cnn = try! ModelSpec(
        name: "cnn", inputSize: 784, classCount: 10,
        layers: [
            .conv2d(channels: 1, filters: 32, kernel: 5, height: 28, width: 28), .relu,
            .maxPool2(channels: 32, height: 28, width: 28),
            .conv2d(channels: 32, filters: 64, kernel: 5, height: 14, width: 14), .relu,
            .maxPool2(channels: 64, height: 14, width: 14),
            .dense(inputs: 64 * 7 * 7, outputs: 512), .relu,
            .dense(inputs: 512, outputs: 10),
        ]
    )

    /// The built-in architectures by name, for the command line.
    public static let builtIns: [String: ModelSpec] = ["mlp": .mlp, "cnn": .cnn]

    /// A model of exactly `parameters` parameters (one dense layer of P − 1 inputs and one
    /// output) for load tests, where only an update's size matters, never its training.
    public static func synthetic(parameters: Int) throws(ModelError) -> ModelSpec {
        guard parameters >= 2 else { throw .invalidArchitecture("a synthetic model needs at least 2 parameters, got \(parameters)") }
        return try ModelSpec(
            name: "synthetic", inputSize: parameters - 1, classCount: 1, layers: [.dense(inputs: parameters - 1, outputs: 1)])
    }

    /// A built-in architecture, or `synthetic:P` (see `synthetic(parameters:)`).
    /// - Throws: `ModelError.unknownArchitecture` for a name that is not built in.
    public static func named(_ name: String) throws(ModelError) -> ModelSpec {
        if name.hasPrefix("synthetic:") {
            guard let count = Int(name.dropFirst("synthetic:".count)) else {
                throw .invalidArchitecture("synthetic:P needs a parameter count, got '\(name)'")
            }
            return try synthetic(parameters: count)
        }
        guard let spec = builtIns[name] else { throw .unknownArchitecture(name, known: builtIns.keys.sorted() + ["synthetic:P"]) }
        return spec
    }
}
