import CRabbitMQ
import Testing

@testable import AMQP

@Suite("librabbitmq results become typed errors")
struct AMQPErrorMappingTests {
    @Test(arguments: [
        (Int32(-0x0009), AMQPError.Code.socketError),
        (-0x000F, .heartbeatTimeout),
        (-0x0007, .connectionClosed),
        (-0x000D, .timeout),
        (-0x0200, .sslError),
    ])
    func statusesKeepLibrarysText(_ status: Int32, _ code: AMQPError.Code) throws {
        let error = try #require(AMQPError.status(status, operation: "publish"))
        #expect(error.code == code)
        #expect(error.text == String(cString: amqp_error_string2(status)))
        #expect(!error.text.isEmpty)
        #expect(error.isConnectionLoss)
    }

    @Test func successIsNoError() {
        #expect(AMQPError.status(0, operation: "x") == nil)
        var reply = amqp_rpc_reply_t()
        reply.reply_type = AMQP_RESPONSE_NORMAL
        #expect(AMQPError.reply(reply, operation: "x") == nil)
    }

    @Test func libraryExceptionClosesTheConnection() throws {
        var reply = amqp_rpc_reply_t()
        reply.reply_type = AMQP_RESPONSE_LIBRARY_EXCEPTION
        reply.library_error = -0x000F
        let (error, scope) = try #require(AMQPError.reply(reply, operation: "queue.declare q"))
        #expect(error.code == .heartbeatTimeout)
        #expect(scope == .connection)
        #expect(error.description.hasPrefix("queue.declare q: "))
    }

    @Test(arguments: [(UInt16(404), "NOT_FOUND - no queue 'q'", AMQPError.Code.notFound),
                      (406, "PRECONDITION_FAILED - inequivalent arg", .preconditionFailed),
                      (403, "ACCESS_REFUSED", .accessRefused)])
    func channelCloseCarriesReplyCodeAndText(_ replyCode: UInt16, _ text: String, _ code: AMQPError.Code) throws {
        var close = amqp_channel_close_t()
        close.reply_code = replyCode
        var utf8 = Array(text.utf8)
        let mapped = try utf8.withUnsafeMutableBytes { bytes in
            close.reply_text = amqp_bytes_t(len: bytes.count, bytes: bytes.baseAddress)
            return try withUnsafeMutablePointer(to: &close) { pointer in
                var reply = amqp_rpc_reply_t()
                reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION
                reply.reply.id = 0x0014_0028
                reply.reply.decoded = UnsafeMutableRawPointer(pointer)
                return try #require(AMQPError.reply(reply, operation: "consume from queue 'q'"))
            }
        }
        #expect(mapped.0.code == code)
        #expect(mapped.0.text == text)
        #expect(mapped.1 == .channel)
        #expect(mapped.0.code.isBrokerReply)
    }

    @Test func classification() {
        #expect(AMQPError(.connectionForced, "", operation: "").isConnectionLoss)
        #expect(!AMQPError(.notFound, "", operation: "").isConnectionLoss)
        #expect(AMQPError(.accessRefused, "", operation: "").isPermanent)
        #expect(AMQPError.Code.preconditionFailed.description == "406 PRECONDITION_FAILED")
    }
}
