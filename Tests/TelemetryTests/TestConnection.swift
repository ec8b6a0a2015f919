import Foundation
import NIOCore
import NIOPosix

/// One TCP connection to a server under test, at the byte level: requests go out exactly as
/// written (a half request, two pipelined ones), and responses are read back one at a time.
final class TestConnection {
    struct Response {
        let status: Int
        /// Lower-cased names.
        let headers: [String: String]
        let body: String
    }

    let channel: any Channel
    private var chunks: AsyncStream<[UInt8]>.AsyncIterator
    private var buffer: [UInt8] = []

    private init(channel: any Channel, chunks: AsyncStream<[UInt8]>) {
        self.channel = channel
        self.chunks = chunks.makeAsyncIterator()
    }

    static func open(to address: SocketAddress) async throws -> TestConnection {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(continuation)) }
            }
            .connect(to: address).get()
        return TestConnection(channel: channel, chunks: stream)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
    }

    /// The next whole response: its head, then `Content-Length` bytes of body (none for a
    /// response to HEAD, whose length is a GET's). Nil when the server closed first.
    func response(toHEAD: Bool = false) async -> Response? {
        while true {
            if let response = parse(toHEAD: toHEAD) { return response }
            guard let chunk = await chunks.next() else { return nil }
            buffer += chunk
        }
    }

    /// Whether the server closed the connection (waits for it).
    func serverClosed() async -> Bool {
        while await chunks.next() != nil {}
        return true
    }

    func close() async {
        try? await channel.close().get()
    }

    private func parse(toHEAD: Bool) -> Response? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = buffer.indices.dropLast(3).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) else { return nil }
        let lines = String(decoding: buffer[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = toHEAD ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        guard buffer.count >= end + 4 + length else { return nil }
        let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        buffer.removeFirst(end + 4 + length)
        return Response(status: status, headers: headers, body: body)
    }
}

/// Hands what the connection receives to an `AsyncStream`, and ends it when the connection closes.
private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let continuation: AsyncStream<[UInt8]>.Continuation

    init(_ continuation: AsyncStream<[UInt8]>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        continuation.yield(bytes.readBytes(length: bytes.readableBytes) ?? [])
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
