import NIOCore
import NIOHTTP1

/// What the metrics server answers a request with, decided from its method and target alone.
enum MetricsRoute: Equatable {
    /// `GET /metrics` (with the text) or `HEAD /metrics` (its headers only).
    case metrics(withBody: Bool)
    /// A method other than GET or HEAD on `/metrics`.
    case methodNotAllowed
    /// Any other path.
    case notFound

    /// The Prometheus text format's media type (version 0.0.4 of the exposition format).
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    init(method: HTTPMethod, uri: String) {
        // A query string (`/metrics?name[]=…`, which some scrapers add) does not change the answer.
        guard uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first == "/metrics" else {
            self = .notFound
            return
        }
        switch method {
        case .GET: self = .metrics(withBody: true)
        case .HEAD: self = .metrics(withBody: false)
        default: self = .methodNotAllowed
        }
    }

    var status: HTTPResponseStatus {
        switch self {
        case .metrics: .ok
        case .methodNotAllowed: .methodNotAllowed
        case .notFound: .notFound
        }
    }
}

/// One connection's requests: each complete request gets one response. Keep-alive follows the
/// request (HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`);
/// pipelined requests are queued by NIO's `HTTPServerPipelineHandler` in front of this one.
final class MetricsRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let exposition: @Sendable () -> [UInt8]
    private var request: HTTPRequestHead?

    init(exposition: @escaping @Sendable () -> [UInt8]) {
        self.exposition = exposition
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break  // a scrape has none; whatever comes is read and dropped
        case .end:
            guard let request else { return }
            self.request = nil
            respond(to: request, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let route = MetricsRoute(method: request.method, uri: request.uri)
        var headers = HTTPHeaders()
        let body: [UInt8]
        switch route {
        case .metrics:
            headers.add(name: "Content-Type", value: MetricsRoute.contentType)
            body = exposition()
        case .methodNotAllowed:
            headers.add(name: "Allow", value: "GET, HEAD")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            body = Array("\(request.method) is not allowed: scrape with GET /metrics\n".utf8)
        case .notFound:
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            body = Array("not found: scrape GET /metrics\n".utf8)
        }
        // HEAD gets the length a GET would have had, and no body.
        headers.add(name: "Content-Length", value: String(body.count))
        let keepAlive = request.isKeepAlive
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: route.status, headers: headers)
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        if route != .metrics(withBody: false) {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let sent = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: sent)
        guard !keepAlive else { return }
        // Closed once the response is written out, not before: closing drops unwritten bytes.
        let loopBoundContext = context.loopBound
        sent.futureResult.whenComplete { _ in loopBoundContext.value.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
