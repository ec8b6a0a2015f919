import Foundation

/// Models a user writes instead of Swift: layers separated by commas,
/// `dense:UNITS`, `relu`, `conv2d:FILTERS:KERNEL` ('same' padding, stride 1)
/// and `maxpool2`, over a sample shape (`SampleShape`); or the same layers in
/// a JSON model file. Shapes are inferred layer by layer, so a user never
/// writes a layer's input size. The result is named `custom`: its hash covers
/// the name, the shapes and the layers like a built-in's (docs/models.md).
extension ModelSpec {
    /// The name of every model built from a spec string or a model file.
    public static let customName = "custom"
    /// No user model may hold more parameters: 100 million floats are 400 MB
    /// per copy, and every client, worker and update holds one.
    public static let parameterLimit = 100_000_000

    /// `--model`: a built-in name, `synthetic:P`, or layers such as `dense:64,relu,dense:10`.
    /// - Throws: `ModelError` for a bad built-in or synthetic name, `ModelSpecError` for bad layers.
    public static func resolve(_ text: String, input: SampleShape, classCount: Int) throws -> ModelSpec {
        if builtIns[text] != nil || text.hasPrefix("synthetic:") { return try named(text) }
        return try parse(layers: text, input: input, classCount: classCount)
    }

    /// - Throws: `ModelSpecError` naming the first bad layer.
    public static func parse(layers text: String, input: SampleShape, classCount: Int) throws(ModelSpecError) -> ModelSpec {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard !(items.count == 1 && items[0].isEmpty) else { throw .empty }
        var layers: [UserLayer] = []
        for (index, item) in items.enumerated() {
            layers.append(try UserLayer(parsing: item, position: index + 1))
        }
        return try build(layers, input: input, classCount: classCount)
    }

    /// A JSON model file: `{"input": [1, 28, 28], "layers": [{"type": "conv2d",
    /// "filters": 32, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2"},
    /// {"type": "dense", "units": 10}]}`; `input` may be left out when `input` is given.
    /// - Throws: `ModelSpecError` for an unreadable file, bad JSON or bad layers.
    public static func load(file path: String, input: SampleShape?, classCount: Int) throws(ModelSpecError) -> ModelSpec {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadableFile(path: path) }
        let file: ModelFile
        do {
            file = try JSONDecoder().decode(ModelFile.self, from: data)
        } catch {
            throw .badFile(path: path, reason: Self.reason(error))
        }
        let shape: SampleShape
        if let dimensions = file.input {
            shape = try SampleShape(dimensions: dimensions)
        } else if let input {
            shape = input
        } else {
            throw .badFile(path: path, reason: "no \"input\" (e.g. [30] or [1, 28, 28]) and none given")
        }
        var layers: [UserLayer] = []
        for (index, entry) in file.layers.enumerated() {
            layers.append(try UserLayer(entry, position: index + 1))
        }
        return try build(layers, input: shape, classCount: classCount)
    }

    /// Chains the layers from `input`, checking each against the shape it gets.
    static func build(_ layers: [UserLayer], input: SampleShape, classCount: Int) throws(ModelSpecError) -> ModelSpec {
        guard !layers.isEmpty else { throw .empty }
        var shape = input
        var specs: [LayerSpec] = []
        for (index, layer) in layers.enumerated() {
            let position = index + 1
            switch (layer, shape) {
            case (.dense(let units), _):
                specs.append(.dense(inputs: shape.count, outputs: units))
                shape = .flat(units)
            case (.relu, _):
                specs.append(.relu)
            case (.conv2d(let filters, let kernel), .image(let channels, let height, let width)):
                guard kernel % 2 == 1, kernel <= 2 * min(height, width) - 1 else {
                    throw .badKernel(position: position, kernel: kernel, height: height, width: width)
                }
                specs.append(.conv2d(channels: channels, filters: filters, kernel: kernel, height: height, width: width))
                shape = .image(channels: filters, height: height, width: width)
            case (.maxPool2, .image(let channels, let height, let width)):
                guard height % 2 == 0, width % 2 == 0 else { throw .oddPoolSize(position: position, height: height, width: width) }
                specs.append(.maxPool2(channels: channels, height: height, width: width))
                shape = .image(channels: channels, height: height / 2, width: width / 2)
            case (.conv2d, .flat):
                throw .needsImage(position: position, layer: "conv2d")
            case (.maxPool2, .flat):
                throw .needsImage(position: position, layer: "maxpool2")
            }
        }
        guard shape.count == classCount else { throw .wrongClassCount(values: shape.count, classes: classCount) }
        let parameters = specs.reduce(0) { $0 + $1.parameterCount }
        guard parameters <= parameterLimit else { throw .tooLarge(parameters: parameters, limit: parameterLimit) }
        do {
            return try ModelSpec(name: customName, inputSize: input.count, classCount: classCount, layers: specs)
        } catch {
            // The checks above are ModelSpec's own; this is a bug if it happens.
            throw .badFile(path: "(spec)", reason: error.description)
        }
    }

    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing \"\(key.stringValue)\"\(location(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type\(location(context)): \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context):
            "not JSON\(location(context))"
        default:
            "\(error)"
        }
    }

    private static func location(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return path.isEmpty ? "" : " at \(path)"
    }
}

/// One layer as a user writes it, before shapes are known.
enum UserLayer: Equatable {
    case dense(units: Int)
    case relu
    case conv2d(filters: Int, kernel: Int)
    case maxPool2

    /// `dense:64`, `relu`, `conv2d:32:5`, `maxpool2`.
    init(parsing text: String, position: Int) throws(ModelSpecError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func number(_ index: Int, _ what: String) throws(ModelSpecError) -> Int {
            guard index < parts.count else { throw .missingArgument(position: position, layer: parts[0], expected: what) }
            guard let value = Int(parts[index]), value > 0 else {
                throw .badArgument(position: position, text: parts[index], expected: what)
            }
            return value
        }
        func arguments(_ count: Int) throws(ModelSpecError) {
            guard parts.count <= count + 1 else { throw .unexpectedArgument(position: position, text: text) }
        }
        switch parts[0] {
        case "dense":
            self = .dense(units: try number(1, "a positive number of units (dense:64)"))
            try arguments(1)
        case "relu":
            try arguments(0)
            self = .relu
        case "conv2d":
            let filters = try number(1, "a positive number of filters (conv2d:32:5)")
            self = .conv2d(filters: filters, kernel: try number(2, "a positive odd kernel size (conv2d:32:5)"))
            try arguments(2)
        case "maxpool2":
            try arguments(0)
            self = .maxPool2
        default:
            throw text.isEmpty ? .emptyLayer(position: position) : .unknownLayer(position: position, text: text)
        }
    }

    init(_ entry: ModelFile.Layer, position: Int) throws(ModelSpecError) {
        func require(_ value: Int?, _ key: String, _ example: String) throws(ModelSpecError) -> Int {
            guard let value else { throw .missingArgument(position: position, layer: entry.type, expected: "\"\(key)\" (\(example))") }
            guard value > 0 else { throw .badArgument(position: position, text: "\(key) \(value)", expected: "positive") }
            return value
        }
        let given = [("units", entry.units), ("filters", entry.filters), ("kernel", entry.kernel)].filter { $0.1 != nil }.map(\.0)
        let allowed: [String]
        switch entry.type {
        case "dense":
            self = .dense(units: try require(entry.units, "units", "\"units\": 64"))
            allowed = ["units"]
        case "relu":
            self = .relu
            allowed = []
        case "conv2d":
            let filters = try require(entry.filters, "filters", "\"filters\": 32")
            self = .conv2d(filters: filters, kernel: try require(entry.kernel, "kernel", "\"kernel\": 5"))
            allowed = ["filters", "kernel"]
        case "maxpool2":
            self = .maxPool2
            allowed = []
        default:
            throw .unknownLayer(position: position, text: entry.type)
        }
        if let extra = given.first(where: { !allowed.contains($0) }) {
            throw .unexpectedArgument(position: position, text: "\(entry.type) with \"\(extra)\"")
        }
    }
}

/// The JSON of a model file.
struct ModelFile: Decodable {
    struct Layer: Decodable {
        let type: String
        let units: Int?
        let filters: Int?
        let kernel: Int?
    }

    let input: [Int]?
    let layers: [Layer]
}
