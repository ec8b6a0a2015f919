/// An architecture: its name, its layers, its parameter count and a stable
/// 64-bit hash. Every model update carries the hash so that an update built
/// for another architecture is rejected instead of silently mis-applied.
public struct ModelSpec: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let inputSize: Int
    public let classCount: Int
    public let layers: [LayerSpec]
    public let parameterCount: Int
    /// FNV-1a of `canonicalDescription`: stable across runs, processes and
    /// machines (unlike Swift's seeded `Hasher`).
    public let hash: UInt64

    /// - Throws: `ModelError.invalidArchitecture` when the shapes do not chain
    ///   or the last layer does not produce `classCount` logits.
    public init(name: String, inputSize: Int, classCount: Int, layers: [LayerSpec]) throws(ModelError) {
        var size = inputSize
        for (index, layer) in layers.enumerated() {
            if let expected = layer.expectedInputSize, expected != size {
                throw .invalidArchitecture("layer \(index) (\(layer.canonicalDescription)) expects \(expected) inputs, gets \(size)")
            }
            if case .maxPool2(_, let h, let w) = layer, h % 2 != 0 || w % 2 != 0 {
                throw .invalidArchitecture("layer \(index) pools an odd size \(h)x\(w)")
            }
            // 'Same' padding of (k - 1) / 2 on each side needs an odd kernel
            // whose padding is smaller than the image.
            if case .conv2d(_, _, let k, let h, let w) = layer, k % 2 == 0 || k < 1 || (k - 1) / 2 >= min(h, w) {
                throw .invalidArchitecture("layer \(index) has a \(k)x\(k) kernel on a \(h)x\(w) image (it must be odd and at most \(2 * min(h, w) - 1))")
            }
            size = layer.outputSize(inputSize: size)
        }
        guard size == classCount, !layers.isEmpty else {
            throw .invalidArchitecture("the last layer yields \(size) values, expected \(classCount) class logits")
        }
        self.name = name
        self.inputSize = inputSize
        self.classCount = classCount
        self.layers = layers
        self.parameterCount = layers.reduce(0) { $0 + $1.parameterCount }
        self.hash = ModelSpec.fnv1a(Self.canonical(name: name, inputSize: inputSize, classCount: classCount, layers: layers))
    }

    /// Name, shapes and layers in one line; the input of the hash.
    public var canonicalDescription: String {
        Self.canonical(name: name, inputSize: inputSize, classCount: classCount, layers: layers)
    }

    public var description: String {
        "\(name) [\(layers.map(\.canonicalDescription).joined(separator: " -> "))] \(parameterCount) parameters, hash \(String(hash, radix: 16))"
    }

    private static func canonical(name: String, inputSize: Int, classCount: Int, layers: [LayerSpec]) -> String {
        "\(name);in=\(inputSize);classes=\(classCount);" + layers.map(\.canonicalDescription).joined(separator: ";")
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
