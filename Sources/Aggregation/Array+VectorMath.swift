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

    /// Whether every element is finite (no NaN, no ±∞): a float's exponent bits are all
    /// ones exactly then, so OR-ing `(bits & mask) + lsb` carries into the top bit only for
    /// those; the loop has no branch and vectorises, so checking a model costs a memory pass.
    public var isAllFinite: Bool {
        withUnsafeBufferPointer { values in
            var flags: UInt32 = 0
            for value in values { flags |= (value.bitPattern & 0x7F80_0000) &+ 0x0080_0000 }
            return flags & 0x8000_0000 == 0
        }
    }

    /// ‖self‖₂, accumulated in Double so a 1.7M-parameter model loses no precision.
    public func l2Norm() -> Double {
        withUnsafeBufferPointer { values in
            var sum = 0.0
            for value in values { sum += Double(value) * Double(value) }
            return sum.squareRoot()
        }
    }

    /// Scales the vector down to L2 norm `bound` when it is longer (direction kept; a
    /// shorter vector is untouched). Returns the norm before clipping.
    @discardableResult
    public mutating func clip(toNorm bound: Double) -> Double {
        let norm = l2Norm()
        guard norm > bound, norm.isFinite else { return norm }
        let scale = Float(bound / norm)
        withUnsafeMutableBufferPointer { values in
            for index in 0..<values.count { values[index] *= scale }
        }
        return norm
    }
}
