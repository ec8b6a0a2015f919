import Foundation

/// A value in an AMQP field table (message headers, queue arguments): the subset of
/// AMQP 0-9-1 field types RabbitMQ uses, so headers survive a round trip through it.
public indirect enum HeaderValue: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral
{
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    /// AMQP timestamps have one-second resolution.
    case timestamp(Date)
    case array([HeaderValue])
    case table([String: HeaderValue])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }

    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    public var intValue: Int64? { if case .int(let value) = self { value } else { nil } }
    public var bytesValue: [UInt8]? { if case .bytes(let value) = self { value } else { nil } }
    public var arrayValue: [HeaderValue]? { if case .array(let value) = self { value } else { nil } }
    public var tableValue: [String: HeaderValue]? { if case .table(let value) = self { value } else { nil } }
}
