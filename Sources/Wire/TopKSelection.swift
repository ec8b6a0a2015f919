/// Picks the k largest-magnitude entries of a vector in O(n), returning their indices ascending.
///
/// Works on the bit patterns of |x|, whose unsigned order equals the order of magnitudes: a
/// 65,536-bucket histogram of the high 16 bits finds the bucket holding the k-th largest, a
/// second histogram of the low 16 bits inside that bucket finds the exact threshold, and a final
/// pass collects indices in order. Three linear passes beat sorting 200k-1.6M floats by far, and
/// the ascending order is what the delta-varint index encoding needs.
enum TopKSelection {
    static func select(_ values: UnsafeBufferPointer<Float>, count k: Int) -> [Int] {
        let n = values.count
        guard k > 0 else { return [] }
        guard k < n else { return Array(0..<n) }
        var histogram = [Int](repeating: 0, count: 1 << 16)
        for value in values { histogram[Int(value.bitPattern & 0x7FFF_FFFF) >> 16] += 1 }
        var above = 0
        var highBucket = (1 << 16) - 1
        while above + histogram[highBucket] < k {
            above += histogram[highBucket]
            highBucket -= 1
        }
        for index in histogram.indices { histogram[index] = 0 }
        for value in values {
            let magnitude = value.bitPattern & 0x7FFF_FFFF
            if Int(magnitude >> 16) == highBucket { histogram[Int(magnitude & 0xFFFF)] += 1 }
        }
        var lowBucket = (1 << 16) - 1
        while above + histogram[lowBucket] < k {
            above += histogram[lowBucket]
            lowBucket -= 1
        }
        let threshold = UInt32(highBucket) << 16 | UInt32(lowBucket)
        var tiesToTake = k - above
        var selected: [Int] = []
        selected.reserveCapacity(k)
        for (index, value) in values.enumerated() {
            let magnitude = value.bitPattern & 0x7FFF_FFFF
            if magnitude > threshold {
                selected.append(index)
            } else if magnitude == threshold && tiesToTake > 0 {
                selected.append(index)
                tiesToTake -= 1
            }
        }
        return selected
    }
}
