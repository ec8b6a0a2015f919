/// The executable form of one or more `LayerSpec`s inside a `Network`.
/// Layers see the network's flat parameter buffer and find their own slice
/// at `parameterOffset`; they hold no parameters themselves.
protocol Layer: AnyObject {
    var inputSize: Int { get }
    var outputSize: Int { get }
    var parameterOffset: Int { get }
    var parameterCount: Int { get }

    /// Writes seeded initial values into the layer's parameter slice.
    func initialize(_ parameters: UnsafeMutablePointer<Float>, generator: inout SeededGenerator)
    /// Grows any per-sample scratch the layer keeps for `batch` samples.
    func reserve(batch: Int)
    func forward(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int, parameters: UnsafePointer<Float>)
    /// Consumes `outputGradient` (it may be overwritten), writes the input
    /// gradient when asked for and accumulates parameter gradients into
    /// `target`. Input gradients are computed before `target` is touched,
    /// since `target` may be the parameters themselves (fused SGD).
    func backward(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>, target: GradientTarget
    )

    /// Whether `accumulateExampleNorms` is implemented: DP-SGD then clips a whole batch at
    /// once; otherwise it takes one example at a time (`Network.trainPrivately`).
    var clipsExamplesInBatch: Bool { get }
    /// DP-SGD's per-example norms without per-example passes: masks `outputGradient` as
    /// `backward` does, adds each example's squared L2 norm of this layer's parameter
    /// gradient to `squaredNorms[example]`, and writes the input gradient when asked.
    /// `outputGradient` holds each example's own loss gradient (not divided by the batch).
    func accumulateExampleNorms(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>,
        squaredNorms: UnsafeMutablePointer<Float>
    )
}

extension Layer {
    func reserve(batch: Int) {}

    var clipsExamplesInBatch: Bool { false }

    func accumulateExampleNorms(
        input: UnsafePointer<Float>, output: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, batch: Int, parameters: UnsafePointer<Float>,
        squaredNorms: UnsafeMutablePointer<Float>
    ) {
        preconditionFailure("\(type(of: self)) does not clip examples in a batch: check clipsExamplesInBatch")
    }
}
