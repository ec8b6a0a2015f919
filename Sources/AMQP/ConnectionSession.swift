import CRabbitMQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Identifies one opened channel; the serial tells a reused channel number apart.
struct ChannelHandle: Sendable, Hashable {
    let number: UInt16
    let serial: UInt64
}

/// The librabbitmq connection and all per-channel bookkeeping. Confined to
/// the connection's thread (see `ConnectionThread`); it owns the
/// `amqp_connection_state_t` (and with it the socket) and destroys it in `deinit`.
final class ConnectionSession {
    let configuration: AMQPConfiguration
    let thread: ConnectionThread
    private(set) var state: amqp_connection_state_t
    /// Why the connection ended; nil while it is open.
    private(set) var failure: AMQPError?
    var channels: [UInt16: ChannelRecord] = [:]
    /// The broker's reason while it has paused this connection's publishing (a memory or
    /// disk alarm); publishes wait for `connection.unblocked` instead of being written.
    var blockedReason: String? {
        didSet { thread.blockedReason = blockedReason }
    }
    private var freeChannelNumbers: [UInt16] = []
    private var nextChannelNumber: UInt16 = 1
    private var nextChannelSerial: UInt64 = 1

    var isOpen: Bool { failure == nil }

    /// Connects, logs in and tunes; cleans up the half-made connection on failure.
    init(configuration: AMQPConfiguration, thread: ConnectionThread) throws(AMQPError) {
        self.configuration = configuration
        self.thread = thread
        guard let state = amqp_new_connection() else {
            throw AMQPError(.connectionClosed, "amqp_new_connection returned NULL", operation: "connect")
        }
        self.state = state
        // From here on `deinit` destroys `state` if anything below throws.
        try open()
    }

    deinit {
        amqp_destroy_connection(state)
    }

    private func open() throws(AMQPError) {
        let operation = "connect to \(configuration.redactedURL)"
        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError(.sslError, "amqp_ssl_socket_new failed", operation: operation) }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyPeer ? 1 : 0)
            guard let context = amqp_ssl_socket_get_context(socket).map(OpaquePointer.init) else {
                throw AMQPError(.sslError, "librabbitmq's TLS socket has no OpenSSL context", operation: operation)
            }
            TLSContext.refusePassphrasePrompts(context)
            TLSDiagnosis.clearQueuedErrors()
            if let ca = tls.caCertificatePath {
                if amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
                    throw AMQPError(.sslError, "cannot load CA certificates from \(ca): \(TLSDiagnosis.takeQueuedError() ?? "unreadable")",
                                    operation: operation)
                }
            } else if tls.verifyPeer, !TLSContext.trustSystemCAs(context) {
                throw AMQPError(.sslError, "no cacertfile given and the system's CA certificates cannot be loaded: \(TLSDiagnosis.takeQueuedError() ?? "unknown reason")",
                                operation: operation)
            }
            if let certificate = tls.clientCertificatePath {
                let key = tls.clientKeyPath ?? certificate
                if TLSContext.isEncryptedKey(key) {
                    throw AMQPError(.sslError, "keyfile \(key) is protected by a passphrase, which librabbitmq cannot take: "
                                    + "give it an unencrypted copy (openssl pkey -in \(key) -out PLAIN.key), readable by this role alone",
                                    operation: operation)
                }
                if amqp_ssl_socket_set_key(socket, certificate, key) != AMQP_STATUS_OK.rawValue {
                    // The key's path is named, never its contents.
                    throw AMQPError(.sslError, "cannot load client certificate \(certificate) with key \(key): \(TLSDiagnosis.takeQueuedError() ?? "unreadable")",
                                    operation: operation)
                }
            }
        } else {
            socket = amqp_tcp_socket_new(state)
            guard socket != nil else { throw AMQPError(.tcpError, "amqp_tcp_socket_new failed", operation: operation) }
        }
        var connectTimeout = timeval(seconds: configuration.connectTimeout)
        let opened = amqp_socket_open_noblock(socket, configuration.host, Int32(configuration.port), &connectTimeout)
        if var error = AMQPError.status(opened, operation: operation) {
            if error.code == .socketError || error.code == .hostnameResolutionFailed || error.code == .timeout {
                error.text = SocketDiagnosis.reason(
                    host: configuration.host, port: configuration.port, timeout: configuration.connectTimeout)
            } else if configuration.tls != nil,
                [.sslError, .sslConnectionFailed, .sslPeerVerifyFailed, .sslHostnameVerifyFailed].contains(error.code) {
                error.text = TLSDiagnosis.handshakeFailure(error.code, configuration: configuration,
                                                          queued: TLSDiagnosis.takeQueuedError())
            }
            throw error
        }
        var handshakeTimeout = connectTimeout
        _ = amqp_set_handshake_timeout(state, &handshakeTimeout)
        var rpcTimeout = timeval(seconds: configuration.rpcTimeout)
        _ = amqp_set_rpc_timeout(state, &rpcTimeout)

        let allocation = CAllocation()
        var clientProperties = allocation.table([
            "connection_name": .string(configuration.connectionName),
            "product": "FedQueue",
            "platform": "Swift",
            // librabbitmq's own capabilities lack consumer_cancel_notify, without which
            // RabbitMQ drops a consumer of a deleted queue silently: the role would sit
            // idle with no consumer. With it the broker sends basic.cancel, and the role
            // subscribes again. (librabbitmq merges this table into its defaults.)
            // connection.blocked: without it a resource alarm is silent, and a publish written
            // into a blocked connection stops the broker reading it at all (acks, RPCs,
            // heartbeats); with it, publishes wait in the session until connection.unblocked.
            "capabilities": .table(["consumer_cancel_notify": .bool(true), "connection.blocked": .bool(true)]),
        ])
        let external = configuration.authMechanism == .external
        // EXTERNAL's response is the identity to act as. RabbitMQ ignores it (the user is
        // the certificate's), but librabbitmq fails to copy an empty one ("could not
        // allocate memory"), so when the URL names no user send the certificate's own name.
        let identity = !external || !configuration.user.isEmpty
            ? configuration.user
            : configuration.tls?.clientCertificatePath.flatMap(TLSContext.commonName(certificateFile:)) ?? "fedq"
        let reply = fedq_login(state, configuration.virtualHost, Int32(configuration.channelMax),
                               Int32(configuration.frameMax), Int32(configuration.heartbeat), &clientProperties,
                               external ? AMQP_SASL_METHOD_EXTERNAL : AMQP_SASL_METHOD_PLAIN,
                               identity, external ? "" : configuration.password)
        withExtendedLifetime(allocation) {}
        let login = external
            ? "login to \(configuration.redactedURL) with the client certificate (EXTERNAL)"
            : "login to \(configuration.redactedURL) as \(configuration.user)"
        if let (error, _) = AMQPError.reply(reply, operation: login) {
            if configuration.tls != nil, error.code == .sslError || error.code == .connectionClosed || error.code == .socketClosed,
                let alert = TLSDiagnosis.takeQueuedError() ?? TLSDiagnosis.refusalAlert(configuration: configuration) {
                // In TLS 1.3 the broker checks the client certificate after the client's side
                // of the handshake is done, so its refusal arrives as an alert on the first read.
                throw AMQPError(.accessRefused, TLSDiagnosis.refusal(alert: alert), operation: error.operation)
            }
            if error.code == .unsupportedSASLMethod {
                let name = external ? "EXTERNAL" : "PLAIN"
                let remedy = external ? ": enable the rabbitmq_auth_mechanism_ssl plugin and list EXTERNAL in auth_mechanisms" : ""
                throw AMQPError(.unsupportedSASLMethod, "the broker does not offer SASL \(name)\(remedy)", operation: error.operation)
            }
            if error.code == .connectionClosed || error.code == .socketClosed {
                // Brokers without authentication_failure_close just drop the socket on a bad login.
                let suspects = external ? "no user for the certificate's name, or no access to the vhost?" : "wrong user, password or vhost?"
                throw AMQPError(.accessRefused, "broker closed the connection during login (\(suspects)): \(error.text)",
                                operation: error.operation)
            }
            throw error
        }
    }

    // MARK: Failure

    /// Ends the whole connection: every pending publish, consumer and channel fails with `error`.
    func fail(_ error: AMQPError) {
        guard failure == nil else { return }
        failure = error
        for record in channels.values { record.fail(error) }
        channels = [:]
    }

    /// Closes the connection politely (from `AMQPConnection.close()`).
    func close() {
        guard isOpen else { return }
        let reply = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        fail(AMQPError.reply(reply, operation: "close connection")?.0
            ?? AMQPError(.connectionClosed, "connection closed by the application", operation: "close connection"))
    }

    func ensureOpen(_ operation: @autoclosure () -> String) throws(AMQPError) {
        if let failure { throw AMQPError(failure.code, failure.text, operation: operation()) }
    }

    // MARK: Channels

    func openChannel() throws(AMQPError) -> ChannelHandle {
        try ensureOpen("open channel")
        let number: UInt16
        if let reused = freeChannelNumbers.popLast() {
            number = reused
        } else {
            let limit = amqp_get_channel_max(state)
            guard limit == 0 || Int32(nextChannelNumber) <= limit else {
                throw AMQPError(.resourceError, "all \(limit) channels of this connection are open", operation: "open channel")
            }
            number = nextChannelNumber
            nextChannelNumber += 1
        }
        let handle = ChannelHandle(number: number, serial: nextChannelSerial)
        nextChannelSerial += 1
        _ = amqp_channel_open(state, number)
        try checkReply(operation: "open channel \(number)", channel: nil)
        channels[number] = ChannelRecord(handle: handle)
        return handle
    }

    /// The live record for `handle`, or the error that closed it.
    func record(_ handle: ChannelHandle, _ operation: @autoclosure () -> String) throws(AMQPError) -> ChannelRecord {
        try ensureOpen(operation())
        guard let record = channels[handle.number], record.handle == handle else {
            throw AMQPError(.channelClosed, "channel \(handle.number) is closed", operation: operation())
        }
        return record
    }

    func closeChannel(_ handle: ChannelHandle) {
        guard isOpen, let record = channels[handle.number], record.handle == handle else { return }
        let reply = amqp_channel_close(state, handle.number, Int32(AMQP_REPLY_SUCCESS))
        forget(record, AMQPError(.channelClosed, "channel \(handle.number) was closed by the application", operation: "close channel"))
        if let (error, scope) = AMQPError.reply(reply, operation: "close channel \(handle.number)"), scope == .connection {
            fail(error)
        }
    }

    /// Drops a channel the broker or we closed, failing its pending work.
    func forget(_ record: ChannelRecord, _ error: AMQPError) {
        record.fail(error)
        channels[record.handle.number] = nil
        freeChannelNumbers.append(record.handle.number)
    }

    /// Checks the reply of the last synchronous method; on a broker exception
    /// answers the close (channel.close-ok / connection.close-ok) and forgets
    /// what it closed.
    func checkReply(operation: @autoclosure () -> String, channel: ChannelRecord?) throws(AMQPError) {
        let reply = amqp_get_rpc_reply(state)
        guard let (error, scope) = AMQPError.reply(reply, operation: operation()) else { return }
        switch scope {
        case .channel:
            if let number = reply.reply.id == Method.channelClose ? channel?.handle.number : nil {
                acknowledgeChannelClose(number)
            }
            if let channel { forget(channel, error) }
        case .connection:
            if reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION { acknowledgeConnectionClose() }
            fail(error)
        case .none:
            break
        }
        throw error
    }

    func acknowledgeChannelClose(_ number: UInt16) {
        var closeOk = amqp_channel_close_ok_t()
        _ = amqp_send_method(state, number, Method.channelCloseOk, &closeOk)
    }

    func acknowledgeConnectionClose() {
        var closeOk = amqp_connection_close_ok_t()
        _ = amqp_send_method(state, 0, Method.connectionCloseOk, &closeOk)
    }

    /// Checks a status int from a librabbitmq call that writes to the socket:
    /// any failure there means the connection is gone.
    func checkStatus(_ status: Int32, operation: @autoclosure () -> String) throws(AMQPError) {
        if let error = AMQPError.status(status, operation: operation()) {
            fail(error)
            throw error
        }
    }

    // MARK: Waiting

    /// Sleeps until the socket or the wake pipe is readable, or the timeout passes.
    func waitForActivity(wake: Int32, milliseconds: Int32) {
        if amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 { return }
        var descriptors = [
            pollfd(fd: amqp_get_sockfd(state), events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&descriptors, 2, milliseconds)
        if ready > 0, descriptors[1].revents & Int16(POLLIN) != 0 {
            var drain = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            while withUnsafeMutableBytes(of: &drain, { read(wake, $0.baseAddress, $0.count) }) > 0 {}
        }
    }
}

extension timeval {
    init(seconds: Double) {
        let whole = seconds.rounded(.down)
        self.init(tv_sec: Int(whole), tv_usec: Int((seconds - whole) * 1_000_000))
    }
}
