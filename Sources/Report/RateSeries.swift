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
}
