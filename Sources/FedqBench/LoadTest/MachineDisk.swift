import Foundation

/// Bytes the machine's disks have written, from sysfs (Linux).
///
/// A load test's broker on one machine is limited by its disk as often as by its cores: a
/// quorum queue writes every update to the node's write-ahead log and, when the log rolls
/// over before the update is let go, again into the queue's segment files (BENCHMARKS.md,
/// "What holds the quorum path back"). Reading the bytes written beside the busy cores tells
/// which of the two a run ran into.
enum MachineDisk {
    /// Bytes written so far by every disk backed by a device (a `device` link in sysfs: not
    /// loop, RAM or device-mapper devices, which would count the same writes twice), nil
    /// where sysfs has no block devices.
    static var bytesWritten: Double? {
        guard let disks = try? FileManager.default.contentsOfDirectory(atPath: "/sys/block") else { return nil }
        let sectors = disks.compactMap { disk -> Double? in
            guard FileManager.default.fileExists(atPath: "/sys/block/\(disk)/device"),
                let stat = try? String(contentsOfFile: "/sys/block/\(disk)/stat", encoding: .utf8)
            else { return nil }
            // Field 7: sectors written, always of 512 bytes (Documentation/block/stat.rst).
            let fields = stat.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count > 6 ? Double(fields[6]) : nil
        }
        return sectors.isEmpty ? nil : 512 * sectors.reduce(0, +)
    }
}
