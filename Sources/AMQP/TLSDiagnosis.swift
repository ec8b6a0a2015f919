import COpenSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a TLS connection to a broker failed, in the words an operator acts on. librabbitmq
/// reports a failed handshake as one of three statuses ("SSL peer cert verification
/// failed") and throws away OpenSSL's reason, so this recovers it: from OpenSSL's error
/// queue of the connection's thread when the handshake or the first read failed (an alert
/// from the broker says why it refused us), and, when the broker's certificate did not
/// verify, by repeating the handshake once with plain OpenSSL calls and verification
/// reported rather than enforced, to learn which check failed and what the certificate says.
/// Like `SocketDiagnosis`, it runs only after a failure, on the connection's own thread.
enum TLSDiagnosis {
    /// The oldest error OpenSSL queued on this thread (the cause; later ones are
    /// consequences), e.g. "tlsv13 alert certificate required". Empties the queue.
    static func takeQueuedError() -> String? {
        let first = ERR_get_error()
        defer { ERR_clear_error() }
        guard first != 0 else { return nil }
        if let reason = ERR_reason_error_string(first) { return String(cString: reason) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(first, &buffer, buffer.count)
        // "error:80000002:system library::No such file or directory": the reason is the last field.
        let fields = Self.string(buffer).split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false)
        return fields.count == 5 ? String(fields[4]) : Self.string(buffer)
    }

    /// Empties this thread's OpenSSL error queue, so a later `takeQueuedError` reports
    /// what failed after this point only.
    static func clearQueuedErrors() { ERR_clear_error() }

    /// The text of a failed `amqp_socket_open` over TLS with status `code` (the error's
    /// code already says "TLS handshake failed" and its operation names host and port).
    /// - Parameter queued: `takeQueuedError()` taken right after the failure.
    static func handshakeFailure(_ code: AMQPError.Code, configuration: AMQPConfiguration, queued: String?) -> String {
        switch code {
        case .sslPeerVerifyFailed:
            return Probe(configuration: configuration).chainProblem()
        case .sslHostnameVerifyFailed:
            return Probe(configuration: configuration).hostnameProblem()
        default:
            guard let queued else {
                return "the broker closed the connection during the handshake (is \(configuration.port) its TLS port?)"
            }
            if queued.contains("wrong version number") || queued.contains("packet length too long") {
                return "\(queued) (is \(configuration.port) a plain AMQP port? it did not answer in TLS)"
            }
            return "\(queued)\(refusalHint(queued))"
        }
    }

    /// The text when the broker ended a TLS connection right after the handshake, with the
    /// alert it sent: in TLS 1.3 a client learns only then that its certificate was refused.
    static func refusal(alert: String) -> String {
        "the broker refused the TLS connection: \(alert)\(refusalHint(alert))"
    }

    /// The alert with which the broker ends a TLS connection after the handshake, learnt by
    /// shaking hands again and sending the AMQP protocol header: when the broker's alert
    /// raced librabbitmq's first write, that write failed on a closed socket and OpenSSL
    /// queued nothing. Nil when the broker answers (it did not refuse the certificate).
    static func refusalAlert(configuration: AMQPConfiguration) -> String? {
        Probe(configuration: configuration).alertAfterHandshake()
    }

    /// A NUL-terminated C buffer as a string.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func refusalHint(_ alert: String) -> String {
        if alert.contains("certificate required") || alert.contains("handshake failure") {
            return " (the broker requires a client certificate: add certfile= and keyfile= to the URL)"
        }
        if alert.contains("unknown ca") {
            return " (the broker does not trust the CA that signed the client certificate)"
        }
        if alert.contains("certificate expired") { return " (the client certificate has expired)" }
        if alert.contains("bad certificate") || alert.contains("unsupported certificate") {
            return " (the broker refused the client certificate)"
        }
        return ""
    }

    /// One handshake with the settings of `configuration`, verification reported rather
    /// than enforced, so the certificate can be examined after it would have failed.
    private struct Probe {
        let configuration: AMQPConfiguration
        let tls: AMQPConfiguration.TLS

        init(configuration: AMQPConfiguration) {
            self.configuration = configuration
            tls = configuration.tls ?? .init()
        }

        /// "certificate verify failed (unable to get local issuer certificate): …".
        func chainProblem() -> String {
            let trusted = tls.caCertificatePath.map { "a CA in \($0)" } ?? "a CA the system trusts"
            return withPeer { ssl, certificate in
                let result = SSL_get_verify_result(ssl)
                let reason = result == X509_V_OK
                    ? "rejected" : String(cString: X509_verify_cert_error_string(result))
                return "certificate verify failed (\(reason)): the broker's certificate (\(Self.describe(certificate))) "
                    + "does not chain to \(trusted)"
            } ?? "certificate verify failed: the broker's certificate does not chain to \(trusted)"
        }

        /// "host name mismatch: the broker's certificate is for DNS:localhost, not '127.0.0.1'".
        func hostnameProblem() -> String {
            let host = configuration.host
            return withPeer { _, certificate in
                "host name mismatch: the broker's certificate is for \(Self.names(certificate)), not '\(host)' "
                    + "(connect by a name it lists, or give the broker a certificate for '\(host)')"
            } ?? "host name mismatch: the broker's certificate does not name '\(host)'"
        }

        /// The alert that ends the connection after the handshake, or nil. A broker that
        /// refuses the certificate sends its alert at once; one that accepts it waits for the
        /// AMQP header. So: wait (briefly) for anything to read before writing, since a write
        /// to a connection the broker already closed resets it and loses the alert.
        func alertAfterHandshake() -> String? {
            withSession { ssl, descriptor in
                var reply = [UInt8](repeating: 0, count: 64)
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                ERR_clear_error()
                if poll(&poller, 1, Int32(min(configuration.connectTimeout, 2) * 1000)) > 0 {
                    return SSL_read(ssl, &reply, Int32(reply.count)) > 0 ? nil : takeQueuedError()
                }
                let header: [UInt8] = Array("AMQP".utf8) + [0, 0, 9, 1]
                guard SSL_write(ssl, header, Int32(header.count)) == Int32(header.count) else { return takeQueuedError() }
                return SSL_read(ssl, &reply, Int32(reply.count)) > 0 ? nil : takeQueuedError()
            } ?? nil
        }

        /// Connects, shakes hands and hands `body` the session and the broker's certificate;
        /// nil when that much did not work (the broker went away since).
        private func withPeer(_ body: (OpaquePointer, OpaquePointer) -> String) -> String? {
            withSession { ssl, _ in
                guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
                defer { X509_free(certificate) }
                return body(ssl, certificate)
            } ?? nil
        }

        /// Connects and shakes hands (verification reported, not enforced), then hands
        /// `body` the session; nil when that much did not work.
        private func withSession<T>(_ body: (_ ssl: OpaquePointer, _ descriptor: Int32) -> T) -> T? {
            guard let descriptor = Self.openSocket(host: configuration.host, port: configuration.port,
                                                timeout: configuration.connectTimeout) else { return nil }
            defer { close(descriptor) }
            guard let context = SSL_CTX_new(TLS_client_method()) else { return nil }
            defer { SSL_CTX_free(context) }
            TLSContext.refusePassphrasePrompts(context)
            if let ca = tls.caCertificatePath {
                _ = SSL_CTX_load_verify_locations(context, ca, nil)
            } else {
                _ = SSL_CTX_set_default_verify_paths(context)
            }
            if let certificate = tls.clientCertificatePath {
                _ = SSL_CTX_use_certificate_chain_file(context, certificate)
                _ = SSL_CTX_use_PrivateKey_file(context, tls.clientKeyPath ?? certificate, SSL_FILETYPE_PEM)
            }
            guard let ssl = SSL_new(context) else { return nil }
            defer { SSL_free(ssl) }
            _ = SSL_set_fd(ssl, descriptor)
            _ = configuration.host.withCString {
                SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0))
            }
            defer { ERR_clear_error() }
            guard SSL_connect(ssl) == 1 else { return nil }
            defer { _ = SSL_shutdown(ssl) }
            return body(ssl, descriptor)
        }

        /// A blocking socket connected to host:port with send and receive timeouts, or nil.
        private static func openSocket(host: String, port: Int, timeout: Double) -> Int32? {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &list) == 0 else { return nil }
            defer { freeaddrinfo(list) }
            var limit = timeval(seconds: max(timeout, 1))
            var entry = list
            while let address = entry?.pointee {
                entry = address.ai_next
                let descriptor = socket(address.ai_family, address.ai_socktype, address.ai_protocol)
                guard descriptor >= 0 else { continue }
                _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                if connect(descriptor, address.ai_addr, address.ai_addrlen) == 0 { return descriptor }
                close(descriptor)
            }
            return nil
        }

        /// "CN=localhost, issued by CN=FedQueue test CA".
        static func describe(_ certificate: OpaquePointer) -> String {
            "\(name(X509_get_subject_name(certificate))), issued by \(name(X509_get_issuer_name(certificate)))"
        }

        /// The names a certificate is valid for: its subject alternative names
        /// ("DNS:localhost, IP Address:127.0.0.1"), else its common name.
        static func names(_ certificate: OpaquePointer) -> String {
            let index = X509_get_ext_by_NID(certificate, NID_subject_alt_name, -1)
            guard index >= 0, let extensionData = X509_get_ext(certificate, index), let bio = BIO_new(BIO_s_mem()) else {
                return name(X509_get_subject_name(certificate))
            }
            defer { BIO_free(bio) }
            guard X509V3_EXT_print(bio, extensionData, 0, 0) == 1 else { return name(X509_get_subject_name(certificate)) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 512)
            while true {
                let count = BIO_read(bio, &chunk, Int32(chunk.count))
                guard count > 0 else { break }
                bytes += chunk[..<Int(count)]
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        /// "/CN=a/O=b" as "CN=a, O=b".
        private static func name(_ name: OpaquePointer?) -> String {
            guard let name else { return "no name" }
            var buffer = [CChar](repeating: 0, count: 512)
            guard X509_NAME_oneline(name, &buffer, Int32(buffer.count)) != nil else { return "no name" }
            return TLSDiagnosis.string(buffer).split(separator: "/").joined(separator: ", ")
        }
    }
}
