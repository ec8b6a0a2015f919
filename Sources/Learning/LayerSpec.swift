/// One layer of an architecture, as data: what a `ModelSpec` is made of.
/// Shapes are per sample; images are channels x height x width, row-major.
public enum LayerSpec: Sendable, Hashable {
    /// Fully connected: `inputs` -> `outputs`, weights then biases.
    case dense(inputs: Int, outputs: Int)
    /// Element-wise max(0, x).
    case relu
    /// Square `kernel` x `kernel` convolution, stride 1, 'same' zero padding.
    case conv2d(channels: Int, filters: Int, kernel: Int, height: Int, width: Int)
    /// 2 x 2 max-pooling with stride 2 (height and width must be even).
    case maxPool2(channels: Int, height: Int, width: Int)

    /// Trainable parameters this layer owns in the model's flat buffer.
    public var parameterCount: Int {
        switch self {
        case .dense(let inputs, let outputs): inputs * outputs + outputs
        case .conv2d(let channels, let filters, let kernel, _, _): filters * channels * kernel * kernel + filters
        case .relu, .maxPool2: 0
        }
    }

    /// The canonical text the spec hash is computed over: changing any shape
    /// changes the hash, so updates from another architecture are caught.
    public var canonicalDescription: String {
        switch self {
        case .dense(let i, let o): "dense(\(i),\(o))"
        case .relu: "relu"
        case .conv2d(let c, let f, let k, let h, let w): "conv2d(\(c),\(f),\(k),\(h),\(w),same)"
        case .maxPool2(let c, let h, let w): "maxpool2(\(c),\(h),\(w))"
        }
    }

    /// Output values per sample given `inputSize` values in.
    func outputSize(inputSize: Int) -> Int {
        switch self {
        case .dense(_, let outputs): outputs
        case .relu: inputSize
        case .conv2d(_, let filters, _, let height, let width): filters * height * width
        case .maxPool2(let channels, let height, let width): channels * (height / 2) * (width / 2)
        }
    }

    /// Values per sample this layer expects, or nil if it takes any size (relu).
    var expectedInputSize: Int? {
        switch self {
        case .dense(let inputs, _): inputs
        case .relu: nil
        case .conv2d(let channels, _, _, let height, let width): channels * height * width
        case .maxPool2(let channels, let height, let width): channels * height * width
        }
    }
}
