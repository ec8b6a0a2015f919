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

    /// self[i] += fraction · (other[i] − self[i]): a step of an exponential moving average.
    mutating func moveToward(_ other: [Float], by fraction: Float) {
        precondition(other.count == count, "vector lengths differ")
        withUnsafeMutableBufferPointer { target in
            other.withUnsafeBufferPointer { source in
                for index in 0..<target.count {
                    target[index] += fraction * (source[index] - target[index])
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

    /// ‖self‖₂: eight Float lanes per block of 1,024 values (the loop vectorises; one
    /// Double sum per value would be a chain of dependent adds, ~0.3 ms for the mlp, and
    /// every update's norm is taken at the worker), the blocks summed in Double so a
    /// 1.7M-parameter model loses no precision. A block whose squares overflow Float is
    /// summed in Double: the norm of finite values is always finite.
    public func l2Norm() -> Double {
        withUnsafeBufferPointer { values in
            guard let base = values.baseAddress else { return 0 }
            var total = 0.0
            var start = 0
            while start < values.count {
                let end = Swift.min(start + 1_024, values.count)
                var lanes = SIMD8<Float>()
                var index = start
                while index + 8 <= end {
                    let chunk = UnsafeRawPointer(base + index).loadUnaligned(as: SIMD8<Float>.self)
                    lanes += chunk * chunk
                    index += 8
                }
                var block = Double(lanes.sum())
                if !block.isFinite {
                    // Squares past Float's range (values over ~1.8e19, as an exploded
                    // update has): this block again in Double.
                    block = 0
                    index = start
                }
                while index < end {
                    block += Double(values[index]) * Double(values[index])
                    index += 1
                }
                total += block
                start = end
            }
            return total.squareRoot()
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
