/// The few vector kernels aggregation needs, written as plain indexed loops over
/// unsafe buffers so the optimiser vectorises them (no bounds checks, no BLAS).
extension Array where Element == Float {
    /// self[i] += scale · other[i].
    mutating func addScaled(_ other: [Float], by scale: Float) {
        precondition(other.count == count, "vector lengths differ")
        withUnsafeMutableBufferPointer { target in
            other.withUnsafeBufferPointer { source in
                for index in 0..<target.count {
                    target[index] += scale * source[index]
                }
            }
        }
    }

    /// A copy with every element multiplied by `scale`.
    func scaled(by scale: Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { target, initialized in
            withUnsafeBufferPointer { source in
                for index in 0..<source.count {
                    target[index] = scale * source[index]
                }
            }
            initialized = count
        }
    }
}
