import CLISupport
import FedqCLI
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The `fedq` executable. An `async` @main (not top-level code in main.swift)
/// so `Fedq.main()` resolves to AsyncParsableCommand's async entry point;
/// at top level the synchronous one wins and every async command prints help.
@main
enum FedqMain {
    static func main() async {
        keepLargeBuffersInTheHeap()
        // FEDQ_* variables fill the shared options a command line leaves out.
        await Fedq.main(EnvironmentDefaults.arguments(
            Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
    }

    /// Every role allocates and frees message-sized buffers (50 KB to 7 MB: bodies, decoded
    /// envelopes, partial sums) thousands of times a second. With glibc's defaults many of those
    /// went to mmap or were trimmed back to the kernel, and every reuse page-faulted fresh zeroed
    /// memory: 16% of a worker's CPU in a 200 KB load test, 43,071 faults in 3 s in a worker and
    /// the publishers. Serving them from the heap and trimming only past 64 MB of free top: 362
    /// faults, and 5-7% less worker CPU per update (BENCHMARKS.md, load tests).
    /// `mallopt` is declared in <malloc.h>, which Swift's Glibc module does not include, so it
    /// is looked up by name (RTLD_DEFAULT is a null handle in glibc).
    private static func keepLargeBuffersInTheHeap() {
        #if canImport(Glibc)
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 64 << 20)
        #endif
    }
}
