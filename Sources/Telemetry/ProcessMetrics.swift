import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The process's own resource use under the names of Prometheus's standard process collector
/// (the Go and Python clients' `process_*`), read from `/proc` at each scrape, so dashboards
/// and alerts written for any Prometheus target work on a FedQueue role too.
///
/// No package FedQueue may use collects these on Linux: swift-prometheus 2.x has no process
/// collector, and swift-metrics-extras (`SystemMetrics`), which has one, is not available here;
/// so they are read directly, as the Go client's `procfs` does.
public struct ProcessMetrics: Sendable, Equatable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    public var residentMemoryBytes: Int
    public var virtualMemoryBytes: Int
    public var openFileDescriptors: Int
    /// The soft limit on open files; nil when unlimited.
    public var maxFileDescriptors: Int?
    /// Since the Unix epoch.
    public var startTimeSeconds: Double

    /// Every name `emit(into:)` writes, with its type and help text.
    public static let definitions: [(name: String, type: String, help: String)] = [
        ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
        ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."),
        ("process_open_fds", "gauge", "Number of open file descriptors."),
        ("process_max_fds", "gauge", "Maximum number of open file descriptors."),
        ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds."),
    ]

    /// This process's figures now; nil where there is no `/proc` (not Linux) or it cannot be read.
    public static func read() -> ProcessMetrics? {
        #if os(Linux)
        guard
            let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let systemStat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let limits = try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8),
            let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        else { return nil }
        let bootTime = systemStat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
        guard let bootTime else { return nil }
        return ProcessMetrics(
            stat: stat, limits: limits, bootTime: bootTime, openFileDescriptors: descriptors.count,
            ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: sysconf(Int32(_SC_PAGESIZE)))
        #else
        return nil
        #endif
    }

    /// Parses `/proc/self/stat` (proc(5): `utime`, `stime`, `starttime` in clock ticks,
    /// `vsize` in bytes, `rss` in pages) and `/proc/self/limits` ("Max open files").
    /// - Parameter bootTime: `btime` of `/proc/stat`, the boot in seconds since the epoch.
    init?(stat: String, limits: String, bootTime: Double, openFileDescriptors: Int, ticksPerSecond: Double, pageSize: Int) {
        // The command name (field 2) is in parentheses and may hold spaces or parentheses of its
        // own: the fields are counted from the last ')'. fields[0] is field 3, `state`.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23), let resident = field(24),
            ticksPerSecond > 0
        else { return nil }
        cpuSeconds = (user + system) / ticksPerSecond
        startTimeSeconds = bootTime + start / ticksPerSecond
        virtualMemoryBytes = Int(virtual)
        residentMemoryBytes = Int(resident) * pageSize
        self.openFileDescriptors = openFileDescriptors
        // "Max open files            1048576              1048576              files": the soft limit.
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }
        maxFileDescriptors = line.flatMap { $0.split(separator: " ").dropFirst(3).first }.flatMap { Int($0) }
    }

    /// Appends the Prometheus text of these figures, each with its `# HELP` and `# TYPE`.
    public func emit(into buffer: inout [UInt8]) {
        let values: [String?] = [
            "\(cpuSeconds)", "\(residentMemoryBytes)", "\(virtualMemoryBytes)", "\(openFileDescriptors)",
            maxFileDescriptors.map { "\($0)" }, "\(startTimeSeconds)",
        ]
        for ((name, type, help), value) in zip(Self.definitions, values) {
            guard let value else { continue }
            buffer.append(contentsOf: "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n".utf8)
        }
    }
}
