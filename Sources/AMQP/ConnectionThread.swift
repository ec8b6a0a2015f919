import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Work for a connection's thread. `run` gets the thread-confined session;
/// `fail` runs instead (on the caller's thread) once the connection has ended.
struct SessionJob: Sendable {
    let run: @Sendable (ConnectionSession) -> Void
    let fail: @Sendable (AMQPError) -> Void
}

/// One dedicated OS thread per connection: librabbitmq blocks and its
/// connection state is not thread-safe, so the `ConnectionSession` is created,
/// used and destroyed on this thread only and never leaves it. Other threads
/// talk to it by queueing `SessionJob`s and waking it through a pipe,
/// which keeps every blocking C call off Swift's cooperative pool.
///
/// This type is plainly `Sendable` (a `Mutex` and immutable values), so the
/// package needs no `@unchecked Sendable` at all.
final class ConnectionThread: Sendable {
    private struct Queue {
        var jobs: [SessionJob] = []
        /// Set once the thread has finished; later jobs fail with it.
        var ended: AMQPError?
        /// Set once the session is destroyed (socket and TLS state freed) and the thread
        /// is about to exit; `waitUntilFinished` callers are resumed then.
        var finished = false
        var finishWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let queue = Mutex(Queue())
    private let blocked = Mutex<String?>(nil)
    /// A non-blocking pipe that wakes the thread from `poll` when a job
    /// arrives: [read end, write end]. Closed in `deinit` by its only owner.
    private let wakePipe: [Int32]
    let label: String

    private init(label: String) {
        self.label = label
        var descriptors: [Int32] = [-1, -1]
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            }
        }
        wakePipe = descriptors
    }

    deinit {
        for descriptor in wakePipe where descriptor >= 0 { close(descriptor) }
    }

    /// Starts the thread and returns once the connection is open.
    /// - Throws: `AMQPError` from connecting or logging in.
    static func start(configuration: AMQPConfiguration) async throws -> ConnectionThread {
        let connectionThread = ConnectionThread(label: "fedq.amqp \(configuration.redactedURL) \(configuration.connectionName)")
        try await withCheckedThrowingContinuation { (opened: CheckedContinuation<Void, Error>) in
            let thread = Thread {
                connectionThread.main(configuration: configuration, opened: opened)
            }
            thread.name = connectionThread.label
            thread.stackSize = 1 << 20
            thread.start()
        }
        return connectionThread
    }

    /// Whether the thread still runs a live connection.
    var isRunning: Bool { queue.withLock { $0.ended == nil } }

    /// The error that ended the connection, if it has ended.
    var endReason: AMQPError? { queue.withLock { $0.ended } }

    /// The broker's reason while it blocks this connection's publishing (set by the session).
    var blockedReason: String? {
        get { blocked.withLock { $0 } }
        set { blocked.withLock { $0 = newValue } }
    }

    func submit(_ job: SessionJob) {
        let ended: AMQPError? = queue.withLock { queue in
            if let ended = queue.ended { return ended }
            queue.jobs.append(job)
            return nil
        }
        if let ended {
            job.fail(ended)
            return
        }
        var byte: UInt8 = 1
        _ = write(wakePipe[1], &byte, 1) // a full pipe already means "wake up"

    }

    /// Runs `body` on the connection thread and returns its result.
    func perform<T: Sendable>(_ body: @escaping @Sendable (ConnectionSession) throws(AMQPError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            submit(SessionJob(
                run: { session in
                    do throws(AMQPError) {
                        continuation.resume(returning: try body(session))
                    } catch {
                        continuation.resume(throwing: error)
                    }
                },
                fail: { continuation.resume(throwing: $0) }
            ))
        }
    }

    /// Queues `body` without waiting for it (cleanup from `deinit`s and stream terminations).
    func post(_ body: @escaping @Sendable (ConnectionSession) -> Void) {
        submit(SessionJob(run: body, fail: { _ in }))
    }

    private func main(configuration: AMQPConfiguration, opened: CheckedContinuation<Void, Error>) {
        openAndRun(configuration: configuration, opened: opened)
        // The session is gone by now (a local of `openAndRun`): `amqp_destroy_connection`,
        // which frees the socket and the TLS state, has run.
        finish()
    }

    private func openAndRun(configuration: AMQPConfiguration, opened: CheckedContinuation<Void, Error>) {
        let session: ConnectionSession
        do {
            session = try ConnectionSession(configuration: configuration, thread: self)
        } catch {
            queue.withLock { $0.ended = error }
            opened.resume(throwing: error)
            return
        }
        opened.resume()
        run(session)
    }

    /// Marks the thread finished and resumes whoever waits for it.
    private func finish() {
        let waiters = queue.withLock { queue in
            queue.finished = true
            defer { queue.finishWaiters = [] }
            return queue.finishWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the thread has destroyed its session. A process that exits while a
    /// connection thread still frees its TLS state crashes in OpenSSL (its exit handlers
    /// destroy the locks the thread is using: seen as a SIGSEGV in
    /// `pthread_rwlock_unlock` after `fedq topology apply` over TLS), so `close` waits here.
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = queue.withLock { queue in
                if queue.finished { return true }
                queue.finishWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// The job loop: run queued jobs, handle whatever frames arrived, then
    /// sleep in `poll` on the socket and the eventfd (with a timeout so
    /// heartbeats are sent and missed ones noticed even when idle).
    private func run(_ session: ConnectionSession) {
        while session.isOpen {
            let batch = queue.withLock { queue in
                let jobs = queue.jobs
                queue.jobs = []
                return jobs
            }
            for job in batch { job.run(session) }
            let ranJobs = !batch.isEmpty
            guard session.isOpen else { break }
            let handledFrames = session.pumpFrames(limit: 64)
            guard session.isOpen, !ranJobs, handledFrames == 0 else { continue }
            session.waitForActivity(wake: wakePipe[0], milliseconds: 200)
        }
        let reason = session.failure ?? AMQPError(.connectionClosed, "connection closed", operation: label)
        let remaining = queue.withLock { queue in
            queue.ended = reason
            defer { queue.jobs = [] }
            return queue.jobs
        }
        for job in remaining { job.fail(reason) }
    }
}
