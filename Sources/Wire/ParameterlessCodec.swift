/// A value codec with nothing to configure (`fp32`, `fp16`): its wire parameter is
/// reserved (zero) and its spec string is its bare name, written once here.
public protocol ParameterlessCodec: ValueCodec {
    init()
}

extension ParameterlessCodec {
    public static var standard: Self { Self() }

    public var wireParameter: UInt16 { 0 }

    public init(wireParameter: UInt16) throws(WireError) {
        guard wireParameter == 0 else { throw .reservedNotZero(field: .int8BlockSize) }
        self.init()
    }

    public init(parameter: String?) throws(CodecSpecError) {
        if parameter != nil { throw .unexpectedParameter(stage: Self.name) }
        self.init()
    }

    public var description: String { Self.name }
}
