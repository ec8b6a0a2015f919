import FedCore
import Foundation
import Messaging

/// A fixed set of threads, each owning one piece of non-Sendable state (a
/// model's training workspace), that run CPU-heavy jobs for async callers.
///
/// Local training takes tens of milliseconds of pure CPU per update: run on
/// Swift's cooperative pool it would starve the tasks that move messages.
/// Each thread here keeps its own `State`, built once, so a job reuses warm
/// buffers instead of allocating a model per client.
public final class ComputePool<State>: Sendable {
    private typealias Job = @Sendable (inout State) -> Void

    private let queue = JobQueue()
    public let threadCount: Int

    /// - Parameter makeState: called once on each new thread, to build the state it owns.
    public init(threads: Int, name: String, makeState: @escaping @Sendable (Int) -> State) {
        threadCount = max(1, threads)
        for index in 0..<threadCount {
            let queue = self.queue
            let thread = Thread {
                var state = makeState(index)
                while let job = queue.next() {
                    (job as! Job)(&state)
                }
            }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs `work` on one of the pool's threads with that thread's state.
    public func run<T: Sendable>(_ work: @escaping @Sendable (inout State) -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let job: Job = { state in continuation.resume(returning: work(&state)) }
            queue.push(job)
        }
    }

    /// Lets the threads finish queued jobs and exit.
    public func shutdown() {
        queue.close()
    }

    deinit {
        queue.close()
    }
}

/// A blocking FIFO shared by the pool's threads. Type-erased jobs keep it
/// non-generic; `NSCondition` is its only synchronisation.
private final class JobQueue: @unchecked Sendable {
    // Safe: every access to `jobs` and `closed` happens with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [Any] = []
    private var head = 0
    private var closed = false

    func push(_ job: Any) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// The next job, or nil once closed and drained.
    func next() -> Any? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed { condition.wait() }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head > 1024 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
