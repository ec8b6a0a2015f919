/// How a batch of images sits in an activation buffer between two layers.
///
/// Dense layers and the outside world see `sampleMajor` (batch x channels x
/// height x width, one sample after another). Between two image layers
/// (convolution, pooling, with stand-alone ReLUs in between) the buffer is
/// `channelMajor` (channels x batch x height x width): a convolution's single
/// GEMM over the whole batch yields exactly that, so no transpose is needed
/// until a dense layer (or the logits) reads the values. For one channel the
/// two layouts coincide.
enum BatchLayout {
    case sampleMajor
    case channelMajor

    /// Offset of the `height x width` plane of `channel` of `sample`.
    @inline(__always)
    func planeOffset(channel: Int, sample: Int, channels: Int, batch: Int, planeSize: Int) -> Int {
        switch self {
        case .sampleMajor: (sample * channels + channel) * planeSize
        case .channelMajor: (channel * batch + sample) * planeSize
        }
    }

    /// The layout of each boundary between `layers` (index i is the input of
    /// layer i; the last index is the network's output): channel-major where
    /// the nearest non-ReLU layers on both sides are image layers.
    static func boundaries(of layers: [LayerSpec]) -> [BatchLayout] {
        func isImage(_ layer: LayerSpec) -> Bool {
            switch layer {
            case .conv2d, .maxPool2: true
            case .dense, .relu: false
            }
        }
        return (0...layers.count).map { boundary in
            let before = layers[..<boundary].last { $0 != .relu }
            let after = layers[boundary...].first { $0 != .relu }
            guard let before, let after, isImage(before), isImage(after) else { return .sampleMajor }
            return .channelMajor
        }
    }
}
