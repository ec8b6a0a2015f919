#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who owns a checkpoint directory: the one coordinator that may load, commit and serve
/// it. A second coordinator started on the same directory (a standby on a shared volume)
/// waits here until the owner is gone, then loads the checkpoint the owner last
/// committed and carries on from it.
///
/// Why a file lock and not only RabbitMQ's single active consumer on `fedq.q.partials`:
/// the broker decides who receives partials, not whose state is current. A standby that
/// loaded the checkpoint at its start and sat idle would, on taking over, apply partials
/// to a model many versions old (versions going back, updates counted against the wrong
/// books). The lock makes a standby load only once the owner can no longer write.
/// `flock` is released by the kernel when its process dies however it dies (kill -9
/// included), and works on NFS (Linux emulates it with POSIX locks there).
public final class CoordinatorLock: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Opens (creating) `DIRECTORY/coordinator.lock`; takes nothing yet.
    /// - Throws: `CheckpointError.io` when the file cannot be opened.
    public init(directory: String) throws(CheckpointError) {
        path = directory + "/coordinator.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    }

    deinit { close(descriptor) }

    /// Takes the lock if no other process holds it.
    public func tryAcquire() -> Bool {
        flock(descriptor, LOCK_EX | LOCK_NB) == 0
    }

    /// Waits until the lock is free and takes it, checking every `interval` (a poll, not a
    /// blocking `flock`, so the wait never holds a thread of the cooperative pool and ends
    /// at once when the task is cancelled: a standby stops on SIGTERM).
    public func acquire(checkingEvery interval: Duration = .milliseconds(200)) async throws {
        while !tryAcquire() { try await Task.sleep(for: interval) }
    }
}
