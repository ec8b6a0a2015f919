#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU time the calling thread has used: what a computation cost a core, which its
/// wall time overstates on a busy machine (the thread waits for a core in between).
public enum ThreadCPUTime {
    /// The calling thread's CPU time so far (zero where the clock is unavailable).
    public static func now() -> Duration {
        var spec = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec) == 0 else { return .zero }
        return .seconds(Int64(spec.tv_sec)) + .nanoseconds(Int64(spec.tv_nsec))
    }
}
