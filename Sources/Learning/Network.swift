/// A model built from a `ModelSpec`: executable layers over one contiguous
/// parameter buffer (and one gradient buffer laid out the same way), plus the
/// workspaces that training and evaluation reuse.
///
/// A `Network` is not thread-safe and not `Sendable`: each client or
/// evaluator owns one and reuses it for every local run; loading new
/// parameters is one copy, and a run allocates nothing once its largest
/// batch has been seen.
public final class Network {
    public let spec: ModelSpec
    let layers: [any Layer]
    let parameterStorage: UnsafeMutablePointer<Float>
    let gradientStorage: UnsafeMutablePointer<Float>
    /// SGD momentum buffer; allocated on the first step that uses momentum.
    var velocity: UnsafeMutablePointer<Float>?
    /// Output of each layer, `batch x layer.outputSize`.
    let activations: [ScratchBuffer<Float>]
    /// Gradient of the loss w.r.t. each layer's output.
    let activationGradients: [ScratchBuffer<Float>]
    let batchInput = ScratchBuffer<Float>()
    let batchLabels = ScratchBuffer<Int32>()
    let batchPredictions = ScratchBuffer<Int32>()
    /// DP-SGD's sum of clipped per-example gradients (`trainPrivately`); sized on first use.
    let clippedSum = ScratchBuffer<Float>()
    /// DP-SGD's per-example loss gradients of a batch, kept while the norms pass masks them.
    let exampleGradients = ScratchBuffer<Float>()
    /// DP-SGD's per-example squared gradient norms of a batch.
    let exampleNorms = ScratchBuffer<Float>()
    /// Which way `.automatic` clipping turned out faster for this model on this machine,
    /// once measured (`trainPrivately`): nil until a chunk large enough to time has come by.
    public internal(set) var measuredClipping: ExampleClipping?
    /// Sample order of the current run; reshuffled in place every epoch.
    var order: [Int] = []
    var forwardCapacity = 0
    var backwardCapacity = 0

    /// Builds the layers and initialises the parameters from `seed`
    /// (the same seed gives bit-identical parameters on every run).
    public init(spec: ModelSpec, seed: UInt64) {
        self.spec = spec
        var built: [any Layer] = []
        var offset = 0
        var index = 0
        var size = spec.inputSize
        let layouts = BatchLayout.boundaries(of: spec.layers)
        while index < spec.layers.count {
            let fuse = index + 1 < spec.layers.count && spec.layers[index + 1] == .relu
            let inputLayout = layouts[index]
            let outputLayout = layouts[index + (fuse ? 2 : 1)]
            let layer: any Layer
            switch spec.layers[index] {
            case .dense(let inputs, let outputs):
                layer = DenseLayer(
                    inputs: inputs, outputs: outputs, fusedReLU: fuse, readsRawInput: built.isEmpty, parameterOffset: offset)
            case .conv2d(let channels, let filters, let kernel, let height, let width):
                layer = Conv2DLayer(
                    channels: channels, filters: filters, kernel: kernel, height: height, width: width, fusedReLU: fuse,
                    parameterOffset: offset, inputLayout: inputLayout, outputLayout: outputLayout)
            case .maxPool2(let channels, let height, let width):
                layer = MaxPoolLayer(
                    channels: channels, height: height, width: width, parameterOffset: offset, inputLayout: inputLayout,
                    outputLayout: outputLayout)
            case .relu:
                layer = ReLULayer(size: size, parameterOffset: offset)
            }
            let fused = (layer as? DenseLayer)?.fusedReLU == true || (layer as? Conv2DLayer)?.fusedReLU == true
            index += fused ? 2 : 1
            offset += layer.parameterCount
            size = layer.outputSize
            built.append(layer)
        }
        layers = built
        parameterStorage = .allocate(capacity: spec.parameterCount)
        gradientStorage = .allocate(capacity: spec.parameterCount)
        gradientStorage.initialize(repeating: 0, count: spec.parameterCount)
        activations = built.map { _ in ScratchBuffer() }
        activationGradients = built.map { _ in ScratchBuffer() }
        var generator = SeededGenerator(seed: seed)
        for layer in built { layer.initialize(parameterStorage, generator: &generator) }
    }

    deinit {
        parameterStorage.deallocate()
        gradientStorage.deallocate()
        velocity?.deallocate()
    }

    /// A copy of all trainable parameters, in the spec's layer order.
    public var parameters: [Float] {
        Array(UnsafeBufferPointer(start: parameterStorage, count: spec.parameterCount))
    }

    /// A copy of the gradients of the last `computeGradients` call.
    public var gradients: [Float] {
        Array(UnsafeBufferPointer(start: gradientStorage, count: spec.parameterCount))
    }

    /// Replaces the parameters (e.g. with a received global model) and clears
    /// the momentum buffer, since a new local run starts from this point.
    /// - Throws: `ModelError.parameterCountMismatch` for a vector of another size.
    public func load(parameters: [Float]) throws(ModelError) {
        guard parameters.count == spec.parameterCount else {
            throw .parameterCountMismatch(expected: spec.parameterCount, received: parameters.count)
        }
        parameters.withUnsafeBufferPointer { parameterStorage.update(from: $0.baseAddress!, count: $0.count) }
        resetMomentum()
    }

    /// Read access to the parameter buffer without copying it.
    public func withParameters<R, E: Error>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: parameterStorage, count: spec.parameterCount))
    }

    /// Write access to the parameter buffer without copying it.
    public func withMutableParameters<R, E: Error>(_ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableBufferPointer(start: parameterStorage, count: spec.parameterCount))
    }

    /// Forgets SGD momentum.
    public func resetMomentum() {
        velocity?.initialize(repeating: 0, count: spec.parameterCount)
    }

    /// Grows the workspaces for `batch` samples; a no-op once they are large enough.
    func reserve(batch: Int, backward: Bool) {
        if batch > forwardCapacity {
            batchInput.reserve(batch * spec.inputSize)
            batchLabels.reserve(batch)
            batchPredictions.reserve(batch)
            for (layer, buffer) in zip(layers, activations) {
                buffer.reserve(batch * layer.outputSize)
                layer.reserve(batch: batch)
            }
            forwardCapacity = batch
        }
        if backward && batch > backwardCapacity {
            for (layer, buffer) in zip(layers, activationGradients) { buffer.reserve(batch * layer.outputSize) }
            backwardCapacity = batch
        }
    }

    /// Runs the layers on the `batch` samples in `batchInput`; the logits end
    /// up in `activations.last`.
    func forward(batch: Int) {
        var input = UnsafePointer(batchInput.pointer)
        for (layer, output) in zip(layers, activations) {
            layer.forward(input, output.pointer, batch: batch, parameters: parameterStorage)
            input = UnsafePointer(output.pointer)
        }
    }

    /// Back-propagates the gradient already in `activationGradients.last`.
    func backward(batch: Int, target: GradientTarget) {
        for index in layers.indices.reversed() {
            layers[index].backward(
                input: index == 0 ? batchInput.pointer : activations[index - 1].pointer,
                output: activations[index].pointer,
                outputGradient: activationGradients[index].pointer,
                inputGradient: index == 0 ? nil : activationGradients[index - 1].pointer,
                batch: batch, parameters: parameterStorage, target: target)
        }
    }

    /// Copies the given samples into the batch buffers.
    func gather(_ dataset: Dataset, indices: ArraySlice<Int>) {
        let width = spec.inputSize
        dataset.features.withUnsafeBufferPointer { features in
            for (row, sample) in indices.enumerated() {
                (batchInput.pointer + row * width).update(from: features.baseAddress! + sample * width, count: width)
                batchLabels.pointer[row] = Int32(dataset.labels[sample])
            }
        }
    }
}
