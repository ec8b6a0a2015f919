import Foundation

/// A `fedq` role started by the load test as a process of its own, so each role's
/// CPU is measured apart (from `/proc/PID/stat`) as it would be in a deployment.
final class RoleProcess: Sendable {
    let name: String
    private let process: Process

    /// Starts this same `fedq` binary with `arguments`, and `environment` on top of this
    /// process's own, its output appended to `log`. Anything secret (the broker URL's
    /// password) goes in `environment`: every user of the machine can read a process's
    /// command line (`ps`, `/proc/PID/cmdline`), but not its environment.
    init(name: String, arguments: [String], environment: [String: String] = [:], log: String) throws {
        self.name = name
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        guard FileManager.default.createFile(atPath: log, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: log])
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        self.process = process
    }

    var pid: Int32 { process.processIdentifier }

    /// User + system CPU seconds so far.
    var cpuSeconds: Double { ProcessCPU.seconds(pid: pid) ?? 0 }

    /// SIGTERM, then up to `timeout` for a clean exit; SIGKILL after that.
    func stop(timeout: Duration = .seconds(15)) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// CPU time of processes, read from procfs (Linux).
enum ProcessCPU {
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime of `pid` in seconds, nil when it is gone.
    static func seconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    /// The pids whose command name is `name` (e.g. RabbitMQ's `beam.smp`).
    static func pids(named name: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }

    /// This process's own CPU seconds.
    static var own: Double { seconds(pid: getpid()) ?? 0 }

    /// CPU seconds the whole machine has been busy (every core, process and the kernel's
    /// interrupt work, plus time the hypervisor stole), from /proc/stat. On a machine the roles
    /// share with the broker, this shows whether the cores, not any one role, were the limit.
    static var machineBusy: Double {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return 0 }
        // user nice system idle iowait irq softirq steal (guest time is already inside user).
        let ticks = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard ticks.count == 8 else { return 0 }
        return (ticks.reduce(0, +) - ticks[3] - ticks[4]) / ticksPerSecond
    }
}

/// CPU of some processes and of the machine over one window, as cores: CPU seconds over the
/// window's own duration, read at both ends, so that set-up and wind-down inside the window
/// are not divided by a shorter span (which made the machine look busier than its cores).
struct CPUWindow {
    private let names: [String]
    private let read: () -> [Double]
    private let before: [Double]
    private let opened = ContinuousClock.now

    /// Starts the window; `read` returns CPU seconds, one per name, in order.
    init(names: [String], read: @escaping () -> [Double]) {
        self.names = names
        self.read = read
        before = read()
    }

    /// Closes the window.
    func close() -> [LoadTestResult.RoleCPU] {
        let after = read()
        let seconds = max(1e-6, (ContinuousClock.now - opened).seconds)
        return zip(names, zip(before, after)).map { name, pair in
            LoadTestResult.RoleCPU(role: name, cpuSeconds: pair.1 - pair.0, cores: (pair.1 - pair.0) / seconds)
        }
    }
}
