/// Why a model a user wrote (`--model "dense:64,relu,dense:2"` or a model
/// file) cannot be built. Each description is one line that names the layer
/// (by its 1-based position) and says what would be accepted.
public enum ModelSpecError: Error, Equatable, CustomStringConvertible {
    case empty
    case emptyLayer(position: Int)
    case unknownLayer(position: Int, text: String)
    case missingArgument(position: Int, layer: String, expected: String)
    case badArgument(position: Int, text: String, expected: String)
    case unexpectedArgument(position: Int, text: String)
    /// Convolution or pooling where the values are not an image.
    case needsImage(position: Int, layer: String)
    case oddPoolSize(position: Int, height: Int, width: Int)
    case badKernel(position: Int, kernel: Int, height: Int, width: Int)
    case wrongClassCount(values: Int, classes: Int)
    case tooLarge(parameters: Int, limit: Int)
    case badInput(String)
    case inputMismatch(input: String, values: Int, dataset: Int)
    case unreadableFile(path: String)
    case badFile(path: String, reason: String)

    static let grammar = "dense:UNITS, relu, conv2d:FILTERS:KERNEL or maxpool2"

    public var description: String {
        switch self {
        case .empty: "the model has no layers; write layers such as dense:64,relu,dense:10 (\(Self.grammar))"
        case .unknownLayer(let position, let text):
            "layer \(position): unknown layer '\(text)'; a layer is \(Self.grammar), and a model mlp, cnn, synthetic:P or such layers separated by commas"
        case .missingArgument(let position, let layer, let expected): "layer \(position): \(layer) needs \(expected)"
        case .badArgument(let position, let text, let expected): "layer \(position): '\(text)' is not \(expected)"
        case .emptyLayer(let position): "layer \(position) is empty (two commas in a row, or one at an end?)"
        case .unexpectedArgument(let position, let text): "layer \(position): '\(text)' has more arguments than the layer takes"
        case .needsImage(let position, let layer):
            "layer \(position): \(layer) needs an image (channels x height x width), but gets flat values: give --input CxHxW, and put no dense layer before it"
        case .oddPoolSize(let position, let height, let width):
            "layer \(position): maxpool2 needs an even height and width, gets \(height)x\(width)"
        case .badKernel(let position, let kernel, let height, let width):
            "layer \(position): conv2d kernel \(kernel) must be odd and at most twice the image size less one (the image is \(height)x\(width))"
        case .wrongClassCount(let values, let classes):
            "the last layer yields \(values) values per sample, but the data has \(classes) classes: end with dense:\(classes)"
        case .tooLarge(let parameters, let limit): "the model has \(parameters) parameters, more than the \(limit) allowed"
        case .badInput(let text): "input '\(text)' is not N or CxHxW with positive numbers (e.g. 30 or 1x28x28)"
        case .inputMismatch(let input, let values, let dataset):
            "input \(input) is \(values) values per sample, but the dataset has \(dataset)"
        case .unreadableFile(let path): "cannot read model file \(path)"
        case .badFile(let path, let reason): "model file \(path): \(reason)"
        }
    }
}
