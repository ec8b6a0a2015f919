import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process the tests start, signal and reap by hand: posix_spawn with its
/// output to a file, and a polling wait that holds no thread. (Foundation's `Process`
/// never called its termination handler for `broker.sh start`, whose backgrounded
/// node outlives it, which hung a test.)
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let arguments: [String]
    /// Where its stdout and stderr go.
    public let outputPath: String
    /// The exit status once reaped: a second `wait` returns it again (waitpid cannot).
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `arguments[0]` (an absolute path) with `environment` added to this process's.
    public init(_ arguments: [String], environment: [String: String] = [:], outputPath: String) throws {
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid = pid_t()
        let result = posix_spawn(&pid, arguments[0], &actions, nil, &argv, &envp)
        guard result == 0 else { throw ChildProcessError.spawnFailed(arguments[0], errno: result) }
        self.pid = pid
        self.arguments = arguments
        self.outputPath = outputPath
    }

    /// Sends `signal`, unless the process was already reaped (its pid may be reused).
    public func signal(_ signal: Int32) {
        guard exitStatus.withLock({ $0 }) == nil else { return }
        kill(pid, signal)
    }

    /// The exit status (128 + signal when killed), or nil if it still runs after `timeout`.
    public func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let known = exitStatus.withLock({ $0 }) { return known }
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                exitStatus.withLock { $0 = code }
                return code
            }
            if reaped < 0 && errno != EINTR { return -1 }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Everything it printed so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case spawnFailed(String, errno: Int32)

    public var description: String {
        switch self {
        case .spawnFailed(let path, let code): "cannot start \(path): \(String(cString: strerror(code)))"
        }
    }
}
