/// Parsing of RabbitMQ URIs (https://www.rabbitmq.com/uri-spec.html and its
/// query parameters): `amqp[s]://[user[:pass]@]host[:port][/vhost][?key=value&…]`.
extension AMQPConfiguration {
    /// Query keys understood in a broker URL.
    public static let urlQueryKeys: Set<String> = [
        "heartbeat", "frame_max", "channel_max", "connection_timeout", "rpc_timeout", "connection_name",
        "cacertfile", "certfile", "keyfile", "verify", "auth_mechanism",
    ]

    /// `url` with the password of its user-info part replaced by `***`: error messages
    /// quote the URL, and a password must never reach a terminal or a log.
    public static func redacting(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let afterScheme = url[scheme.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { "/?#".contains($0) }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else { return url }
        return String(url[..<authority.index(after: colon)]) + "***" + String(url[at...])
    }

    /// - Throws: `AMQPError` with code `.invalidURL` naming the offending part (the URL it
    ///   quotes has its password replaced by `***`).
    public init(url: String) throws(AMQPError) {
        self.init()
        func invalid(_ why: String) -> AMQPError { AMQPError(.invalidURL, why, operation: "parse URL") }

        var rest = Substring(url)
        if rest.hasPrefix("amqp://") {
            rest = rest.dropFirst("amqp://".count)
            port = 5672
        } else if rest.hasPrefix("amqps://") {
            rest = rest.dropFirst("amqps://".count)
            port = 5671
            tls = TLS()
        } else {
            throw invalid("scheme must be amqp:// or amqps:// in '\(Self.redacting(url))'")
        }

        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var passwordGiven = false
        var userGiven = false
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            userGiven = true
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = try Self.percentDecoded(credentials[..<colon], url: url)
                password = try Self.percentDecoded(credentials[credentials.index(after: colon)...], url: url)
                passwordGiven = true
            } else {
                user = try Self.percentDecoded(credentials, url: url)
            }
        }

        // Host, with optional [IPv6] brackets and :port.
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unclosed '[' in host of '\(Self.redacting(url))'") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw invalid("unexpected '\(rest)' after host in '\(Self.redacting(url))'") }
                port = try Self.port(rest.dropFirst(), url: url)
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = try Self.port(rest[rest.index(after: colon)...], url: url)
        } else {
            host = String(rest)
        }
        if host.isEmpty { host = "localhost" }

        if let path {
            guard !path.contains("/") else { throw invalid("vhost must be one path segment (encode '/' as %2F) in '\(Self.redacting(url))'") }
            virtualHost = path.isEmpty ? "/" : try Self.percentDecoded(path, url: url)
        }

        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            let value = parts.count > 1 ? try Self.percentDecoded(parts[1], url: url) : ""
            try apply(key: key, value: value, url: url)
        }
        if authMechanism == .external {
            // Checked after the whole query: certfile may come after auth_mechanism.
            guard tls?.clientCertificatePath != nil else {
                throw invalid("auth_mechanism=external logs in with the client certificate: add certfile= (and keyfile=) in '\(Self.redacting(url))'")
            }
            guard !passwordGiven else {
                throw invalid("auth_mechanism=external takes no password (the client certificate is the credential) in '\(Self.redacting(url))'")
            }
            // The broker reads the user from the certificate; a user in the URL is only sent along.
            if !userGiven { user = "" }
        }
    }

    private mutating func apply(key: String, value: String, url: String) throws(AMQPError) {
        func number(_ range: ClosedRange<Double>) throws(AMQPError) -> Double {
            guard let number = Double(value), range.contains(number) else {
                throw AMQPError(.invalidURL, "\(key)=\(value) must be a number in \(range) in '\(Self.redacting(url))'", operation: "parse URL")
            }
            return number
        }
        func requireTLS() throws(AMQPError) {
            guard tls != nil else {
                throw AMQPError(.invalidURL, "\(key) needs an amqps:// URL in '\(Self.redacting(url))'", operation: "parse URL")
            }
        }
        switch key {
        case "heartbeat": heartbeat = Int(try number(0...65_535))
        case "frame_max": frameMax = Int(try number(4096...Double(Int32.max)))
        case "channel_max": channelMax = Int(try number(0...65_535))
        case "connection_timeout": connectTimeout = try number(0.001...86_400_000) / 1000 // milliseconds, as in the URI spec
        case "rpc_timeout": rpcTimeout = try number(0.001...86_400_000) / 1000
        case "connection_name": connectionName = value
        case "cacertfile": try requireTLS(); tls?.caCertificatePath = value
        case "certfile": try requireTLS(); tls?.clientCertificatePath = value
        case "keyfile": try requireTLS(); tls?.clientKeyPath = value
        case "verify":
            try requireTLS()
            switch value {
            case "verify_peer": tls?.verifyPeer = true
            case "verify_none": tls?.verifyPeer = false
            default:
                throw AMQPError(.invalidURL, "verify must be verify_peer or verify_none in '\(Self.redacting(url))'", operation: "parse URL")
            }
        case "auth_mechanism":
            guard let mechanism = AuthMechanism(rawValue: value.lowercased()) else {
                throw AMQPError(.invalidURL, "auth_mechanism must be plain or external in '\(Self.redacting(url))'", operation: "parse URL")
            }
            if mechanism == .external { try requireTLS() }
            authMechanism = mechanism
        default:
            throw AMQPError(.invalidURL, "unknown query parameter '\(key)' in '\(Self.redacting(url))' (known: \(Self.urlQueryKeys.sorted().joined(separator: ", ")))",
                            operation: "parse URL")
        }
    }

    private static func port(_ text: Substring, url: String) throws(AMQPError) -> Int {
        guard let port = Int(text), (1...65_535).contains(port) else {
            throw AMQPError(.invalidURL, "port '\(text)' is not in 1…65535 in '\(Self.redacting(url))'", operation: "parse URL")
        }
        return port
    }

    private static func percentDecoded(_ text: Substring, url: String) throws(AMQPError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw AMQPError(.invalidURL, "bad percent escape in '\(Self.redacting(url))'", operation: "parse URL")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
