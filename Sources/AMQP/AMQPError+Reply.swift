import CRabbitMQ

/// The one place where librabbitmq results become Swift errors.
extension AMQPError {
    /// Which part of the session a failure tore down, so the session can
    /// answer `channel.close` / `connection.close` and forget the right state.
    enum Scope: Equatable {
        case none
        case channel
        case connection
    }

    /// Maps a librabbitmq status int (0 or a negative `amqp_status_enum`).
    static func status(_ status: Int32, operation: @autoclosure () -> String) -> AMQPError? {
        guard status < 0 else { return nil }
        return AMQPError(Code(status), String(cString: amqp_error_string2(status)), operation: operation())
    }

    /// Maps an `amqp_rpc_reply_t`, returning the error and the scope it closed.
    static func reply(_ reply: amqp_rpc_reply_t, operation: @autoclosure () -> String) -> (AMQPError, Scope)? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_NONE:
            return (AMQPError(.connectionClosed, "no reply (missing RPC reply type)", operation: operation()), .connection)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let error = status(reply.library_error, operation: operation())
                ?? AMQPError(.connectionClosed, "library exception", operation: operation())
            return (error, .connection)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            switch reply.reply.id {
            case Method.connectionClose:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return (AMQPError(Code(Int32(close.reply_code)), String(amqpBytes: close.reply_text), operation: operation()),
                        .connection)
            case Method.channelClose:
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return (AMQPError(Code(Int32(close.reply_code)), String(amqpBytes: close.reply_text), operation: operation()),
                        .channel)
            default:
                return (AMQPError(.unexpectedFrame, "unexpected method 0x\(String(reply.reply.id, radix: 16))",
                                  operation: operation()), .connection)
            }
        default:
            return (AMQPError(.connectionClosed, "unknown reply type", operation: operation()), .connection)
        }
    }
}

/// AMQP method ids; librabbitmq defines them as casting macros Swift cannot import.
enum Method {
    static let connectionClose: amqp_method_number_t = 0x000A_0032
    static let connectionCloseOk: amqp_method_number_t = 0x000A_0033
    /// RabbitMQ's extension: publishing paused by a memory or disk alarm, and resumed.
    static let connectionBlocked: amqp_method_number_t = 0x000A_003C
    static let connectionUnblocked: amqp_method_number_t = 0x000A_003D
    static let channelClose: amqp_method_number_t = 0x0014_0028
    static let channelCloseOk: amqp_method_number_t = 0x0014_0029
    static let basicDeliver: amqp_method_number_t = 0x003C_003C
    static let basicReturn: amqp_method_number_t = 0x003C_0032
    static let basicAck: amqp_method_number_t = 0x003C_0050
    static let basicNack: amqp_method_number_t = 0x003C_0078
    static let basicCancel: amqp_method_number_t = 0x003C_001E
    static let basicGetOk: amqp_method_number_t = 0x003C_0047
    static let basicGetEmpty: amqp_method_number_t = 0x003C_0048
}

extension String {
    /// Copies AMQP bytes (not NUL-terminated) into a Swift string.
    init(amqpBytes bytes: amqp_bytes_t) {
        guard bytes.len > 0, let base = bytes.bytes else {
            self = ""
            return
        }
        self = String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }
}
