import Foundation
import Prometheus

#if canImport(Glibc)
import Glibc
#endif

/// Serves the registry as Prometheus text on `GET /metrics`.
///
/// A scrape every few seconds needs no HTTP framework: a listening socket and a
/// thread of its own (blocking in `accept`, never on Swift's cooperative pool)
/// answer it, one short connection at a time.
public final class MetricsServer: Sendable {
    public let port: Int
    private let socket: Int32

    /// Binds `address:port` (port 0 picks a free one: read `port`).
    /// - Throws: `MetricsServerError` when the address cannot be bound.
    public init(registry: PrometheusCollectorRegistry, address: String = "127.0.0.1", port: Int) throws(MetricsServerError) {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .bind(address: address, port: port, reason: String(cString: strerror(errno))) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &socketAddress.sin_addr) == 1 else {
            Glibc.close(fd)
            throw .bind(address: address, port: port, reason: "not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw .bind(address: address, port: port, reason: reason)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.socket = fd
        let thread = Thread { [fd] in Self.serve(fd, registry: registry) }
        thread.name = "fedq-metrics"
        thread.start()
    }

    private static func serve(_ listener: Int32, registry: PrometheusCollectorRegistry) {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return  // closed
            }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request = [UInt8](repeating: 0, count: 4096)
            let count = read(client, &request, request.count)
            let line = count > 0 ? String(decoding: request[..<count], as: UTF8.self).prefix { $0 != "\r" && $0 != "\n" } : ""
            let response: [UInt8]
            if line.hasPrefix("GET /metrics ") || line == "GET /metrics" {
                let body = registry.emitToBuffer()
                response = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
            } else {
                let body = Array("not found: scrape GET /metrics\n".utf8)
                response = Array("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
            }
            response.withUnsafeBytes { buffer in
                var sent = 0
                while sent < buffer.count {
                    let written = write(client, buffer.baseAddress! + sent, buffer.count - sent)
                    if written <= 0 { break }
                    sent += written
                }
            }
            Glibc.close(client)
        }
    }

    /// Stops listening (the serving thread ends at its next `accept`).
    public func close() {
        shutdown(socket, Int32(SHUT_RDWR))
        Glibc.close(socket)
    }
}

public enum MetricsServerError: Error, Equatable, CustomStringConvertible {
    case bind(address: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case .bind(let address, let port, let reason): "cannot serve metrics on \(address):\(port): \(reason)"
        }
    }
}
