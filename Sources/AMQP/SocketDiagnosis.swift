#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a TCP connection to a broker failed, in the words an operator acts on. librabbitmq
/// reports every failure of `amqp_socket_open` as "a socket error occurred" (its errno is
/// gone by then), so after such a failure this repeats the connect once with plain POSIX
/// calls to learn the reason: refused, timed out, unreachable, or a name that does not resolve.
enum SocketDiagnosis {
    static func reason(host: String, port: Int, timeout: Double) -> String {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(host, String(port), &hints, &list)
        guard lookup == 0, let first = list else {
            return "cannot resolve host name '\(host)' (\(String(cString: gai_strerror(lookup))))"
        }
        defer { freeaddrinfo(list) }
        var reasons: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            reasons.append(attempt(address.pointee, timeout: timeout))
            entry = address.pointee.ai_next
        }
        let where_ = "\(host):\(port)"
        // One reason per address; they are almost always the same.
        return Array(Set(reasons)).sorted().map { "\($0) at \(where_)" }.joined(separator: "; ")
    }

    private static func attempt(_ address: addrinfo, timeout: Double) -> String {
        let fd = socket(address.ai_family, address.ai_socktype, address.ai_protocol)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        if connect(fd, address.ai_addr, address.ai_addrlen) == 0 { return "connected, but the AMQP handshake failed" }
        guard errno == EINPROGRESS else { return describe(errno) }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, Int32(max(1, timeout * 1000)))
        guard ready > 0 else { return ready == 0 ? "connection timed out after \(timeout) s" : describe(errno) }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        return error == 0 ? "connected, but the AMQP handshake failed" : describe(error)
    }

    private static func describe(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ETIMEDOUT: "connection timed out"
        case EHOSTUNREACH, ENETUNREACH: "host unreachable"
        default: String(cString: strerror(code)).lowercased()
        }
    }
}
