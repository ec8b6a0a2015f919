import Foundation

/// What one sample is to a model a user writes: N values, or an image of
/// channels x height x width (row-major, one channel after another), which
/// convolution and pooling need. `--input 30` or `--input 1x28x28`.
public enum SampleShape: Sendable, Equatable, CustomStringConvertible {
    case flat(Int)
    case image(channels: Int, height: Int, width: Int)

    /// MNIST: one 28 x 28 channel.
    public static let mnist = SampleShape.image(channels: 1, height: 28, width: 28)

    /// Values per sample.
    public var count: Int {
        switch self {
        case .flat(let count): count
        case .image(let channels, let height, let width): channels * height * width
        }
    }

    public var description: String {
        switch self {
        case .flat(let count): "\(count)"
        case .image(let channels, let height, let width): "\(channels)x\(height)x\(width)"
        }
    }

    /// - Throws: `ModelSpecError.badInput` unless `text` is N or CxHxW with positive numbers.
    public init(parsing text: String) throws(ModelSpecError) {
        let parts = text.split(separator: "x", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ ($0 ?? 0) > 0 }) else { throw .badInput(text) }
        let values = parts.map { $0! }
        switch values.count {
        case 1: self = .flat(values[0])
        case 3: self = .image(channels: values[0], height: values[1], width: values[2])
        default: throw .badInput(text)
        }
    }

    /// From a model file's `"input"`: `[N]` or `[C, H, W]`.
    init(dimensions: [Int]) throws(ModelSpecError) {
        try self.init(parsing: dimensions.map(String.init).joined(separator: "x"))
    }
}
