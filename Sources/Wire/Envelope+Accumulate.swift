extension Envelope {
    /// The hot path: `accumulator += weight · decode(payload)`, straight from the payload bytes.
    ///
    /// The message was fully validated when this envelope was made, so this only fails when the
    /// accumulator length is wrong, and it fails before writing anything.
    /// - Throws: ``WireError/accumulatorSizeMismatch(expected:actual:)``.
    public func accumulate(into accumulator: inout [Float], weight: Float) throws(WireError) {
        guard accumulator.count == header.parameterCount else {
            throw .accumulatorSizeMismatch(expected: header.parameterCount, actual: accumulator.count)
        }
        accumulateUnchecked(into: &accumulator, weight: weight)
    }

    /// ``accumulate(into:weight:)`` for callers that own raw accumulator memory.
    public func accumulate(into accumulator: UnsafeMutableBufferPointer<Float>, weight: Float) throws(WireError) {
        guard accumulator.count == header.parameterCount else {
            throw .accumulatorSizeMismatch(expected: header.parameterCount, actual: accumulator.count)
        }
        storage.withUnsafeBytes { bytes in accumulateKernel(bytes, into: accumulator, weight: weight) }
    }

    func accumulateUnchecked(into accumulator: inout [Float], weight: Float) {
        accumulator.withUnsafeMutableBufferPointer { target in
            storage.withUnsafeBytes { bytes in accumulateKernel(bytes, into: target, weight: weight) }
        }
    }

    private func accumulateKernel(_ bytes: UnsafeRawBufferPointer, into target: UnsafeMutableBufferPointer<Float>, weight: Float) {
        guard let base = bytes.baseAddress, let output = target.baseAddress else { return }
        if let sparse {
            SparseKernels.accumulate(base, layout: sparse, codec: header.codec.values, into: output, weight: weight)
            return
        }
        let source = base + encodedOffset
        let count = header.parameterCount
        switch header.codec.values {
        case .fp32: DenseKernels.accumulateFloat(source, count: count, into: output, weight: weight)
        case .fp16: DenseKernels.accumulateHalf(source, count: count, into: output, weight: weight)
        case .int8(let blockSize): DenseKernels.accumulateInt8(source, count: count, blockSize: blockSize, into: output, weight: weight)
        }
    }
}
