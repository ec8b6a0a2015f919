import AMQP
import Dispatch
import Foundation
import Pipeline
import Synchronization

/// What every long-running role command shares: log lines on stderr, a supervisor
/// that reconnects, and a clean stop on SIGTERM or SIGINT.
enum RoleRuntime {
    /// One timestamped line on stderr (stdout stays for a command's results).
    static func log(_ line: String) {
        let stamp = Date().formatted(.iso8601)
        FileHandle.standardError.write(Data("\(stamp) \(line)\n".utf8))
    }

    static func supervisor(role: String, shared: SharedOptions) throws -> RoleSupervisor {
        let configuration = try shared.roleBroker(name: "fedq \(role)")
        log("\(role): broker \(configuration.redactedURL)")
        return RoleSupervisor(role: role, patience: .seconds(shared.reconnectFor), log: log) { () throws(TransportError) in
            try await AMQPTransport(configuration: configuration)
        }
    }

    /// Runs `body` until it returns, or until SIGTERM/SIGINT cancels it (then waits for
    /// it to wind down, so outputs are final when the process exits).
    static func runUntilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let work = Task { try await body() }
        let trap = SignalTrap(signals: [SIGTERM, SIGINT]) { signal in
            log("received \(signal == SIGTERM ? "SIGTERM" : "SIGINT"), stopping")
            work.cancel()
        }
        defer { trap.cancel() }
        try await work.value
    }
}

/// Turns signals into a callback on a dispatch queue instead of killing the process.
final class SignalTrap {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// Appends lines to a file (creating it with `header` when new), one write per line,
/// so a reader, or a crash, sees whole lines.
final class LineLog: Sendable {
    private let handle: Mutex<FileHandle>

    init(path: String, header: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            try Data((header + "\n").utf8).write(to: url)
        }
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        self.handle = Mutex(handle)
    }

    func append(_ line: String) {
        handle.withLock { $0.write(Data((line + "\n").utf8)) }
    }
}

/// A value several tasks read and one replaces (the current session's role object).
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    var current: Value {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
