import Foundation
import Testing

@testable import Telemetry

/// `process_*` as Prometheus's process collector defines them, from this process's `/proc`.
@Suite struct ProcessMetricsTests {
    /// A /proc/self/stat line whose command name has a space and a parenthesis in it.
    static let stat = "4242 (fedq (worker) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 250 50 0 0 20 0 9 0 123456 "
        + "2147483648 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
    static let limits = """
        Limit                     Soft Limit           Hard Limit           Units
        Max cpu time              unlimited            unlimited            seconds
        Max open files            1024                 524288               files
        """

    @Test func parsesStatAndLimits() throws {
        let metrics = try #require(ProcessMetrics(
            stat: Self.stat, limits: Self.limits, bootTime: 1_700_000_000, openFileDescriptors: 12, ticksPerSecond: 100,
            pageSize: 4096))
        #expect(metrics.cpuSeconds == 3.0)  // (250 + 50) ticks
        #expect(metrics.startTimeSeconds == 1_700_001_234.56)  // boot + 123456 ticks
        #expect(metrics.virtualMemoryBytes == 2_147_483_648)
        #expect(metrics.residentMemoryBytes == 5000 * 4096)
        #expect(metrics.openFileDescriptors == 12)
        #expect(metrics.maxFileDescriptors == 1024)
    }

    @Test func refusesWhatIsNotAStatLine() {
        #expect(ProcessMetrics(stat: "", limits: "", bootTime: 0, openFileDescriptors: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessMetrics(stat: "1 (x) S 1 2", limits: "", bootTime: 0, openFileDescriptors: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test func unlimitedFilesLeaveOutMaxFDs() throws {
        let limits = Self.limits.replacingOccurrences(of: "1024                 524288", with: "unlimited            unlimited")
        let metrics = try #require(ProcessMetrics(
            stat: Self.stat, limits: limits, bootTime: 0, openFileDescriptors: 1, ticksPerSecond: 100, pageSize: 4096))
        var text: [UInt8] = []
        metrics.emit(into: &text)
        #expect(metrics.maxFileDescriptors == nil)
        #expect(!String(decoding: text, as: UTF8.self).contains("process_max_fds"))
    }

    @Test func readsThisProcess() throws {
        let metrics = try #require(ProcessMetrics.read())
        let now = Date().timeIntervalSince1970
        #expect(metrics.startTimeSeconds > now - 24 * 3600 && metrics.startTimeSeconds <= now + 1)
        #expect(metrics.cpuSeconds > 0)
        #expect(metrics.residentMemoryBytes > 1 << 20 && metrics.virtualMemoryBytes >= metrics.residentMemoryBytes)
        #expect(metrics.openFileDescriptors >= 3)
        #expect(metrics.maxFileDescriptors.map { $0 >= metrics.openFileDescriptors } ?? true)
    }

    @Test func emitsHelpTypeAndValueForEach() throws {
        let metrics = try #require(ProcessMetrics(
            stat: Self.stat, limits: Self.limits, bootTime: 1_700_000_000, openFileDescriptors: 12, ticksPerSecond: 100,
            pageSize: 4096))
        var text: [UInt8] = []
        metrics.emit(into: &text)
        #expect(String(decoding: text, as: UTF8.self) == """
            # HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
            # TYPE process_cpu_seconds_total counter
            process_cpu_seconds_total 3.0
            # HELP process_resident_memory_bytes Resident memory size in bytes.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes 20480000
            # HELP process_virtual_memory_bytes Virtual memory size in bytes.
            # TYPE process_virtual_memory_bytes gauge
            process_virtual_memory_bytes 2147483648
            # HELP process_open_fds Number of open file descriptors.
            # TYPE process_open_fds gauge
            process_open_fds 12
            # HELP process_max_fds Maximum number of open file descriptors.
            # TYPE process_max_fds gauge
            process_max_fds 1024
            # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
            # TYPE process_start_time_seconds gauge
            process_start_time_seconds 1700001234.56

            """)
    }
}
