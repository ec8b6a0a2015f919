import FedCore

/// "Updates per second over time", as the reports plot it, from the times events happened.
public enum RateSeries {
    /// Events per second in buckets of `width` seconds from `start` to `end` (x = the
    /// bucket's start, in seconds from `start`); events after `end` fall in the last bucket.
    public static func perSecond(
        _ times: [Double], from start: Double, to end: Double, bucket width: Double
    ) -> [(x: Double, y: Double)] {
        var counts = [Int](repeating: 0, count: Int((end - start) / width) + 1)
        for time in times where time >= start { counts[min(counts.count - 1, Int((time - start) / width))] += 1 }
        return counts.enumerated().map { (Double($0.offset) * width, Double($0.element) / width) }
    }

    /// The mean of each point and those before it within `window` (in x units): a rate
    /// sampled every 250 ms saws between 0 and 80 as aggregates land; averaged over a few
    /// seconds it reads as a throughput.
    public static func rolling(_ points: [(x: Double, y: Double)], window: Double) -> [(x: Double, y: Double)] {
        var result: [(x: Double, y: Double)] = []
        result.reserveCapacity(points.count)
        var start = 0
        var sum = 0.0
        for (index, point) in points.enumerated() {
            sum += point.y
            while points[start].x < point.x - window + 1e-9, start < index {
                sum -= points[start].y
                start += 1
            }
            result.append((point.x, sum / Double(index - start + 1)))
        }
        return result
    }
}

/// Byte counts as people read them: 950 B, 12.3 kB, 478.2 MB, 4.02 GB (decimal units, as
/// BENCHMARKS.md quotes them).
public enum ByteCount {
    public static func format(_ bytes: Int) -> String {
        let value = Double(bytes)
        switch value {
        case ..<1e3: return "\(bytes) B"
        case ..<1e6: return String(format: "%.1f kB", value / 1e3)
        case ..<1e9: return String(format: "%.1f MB", value / 1e6)
        default: return String(format: "%.2f GB", value / 1e9)
        }
    }
}
