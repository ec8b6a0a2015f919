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

    /// ‖decode(payload)‖₂, read off the codec's bytes (no decoded vector for int8 and fp32):
    /// what a worker clips each update by. Top-k payloads: the norm of the kept values.
    public func l2Norm() -> Double {
        storage.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return 0 }
            if let sparse {
                return header.codec.values.squaredNorm(base + sparse.valuesOffset, count: sparse.count).squareRoot()
            }
            return header.codec.values.squaredNorm(base + encodedOffset, count: header.parameterCount).squareRoot()
        }
    }

    /// One call into the message's codec (dispatched once per message, not per value).
    private func accumulateKernel(_ bytes: UnsafeRawBufferPointer, into target: UnsafeMutableBufferPointer<Float>, weight: Float) {
        guard let base = bytes.baseAddress, let output = target.baseAddress else { return }
        if let sparse {
            SparseKernels.accumulate(base, layout: sparse, codec: header.codec.values, into: output, weight: weight)
            return
        }
        header.codec.values.accumulate(base + encodedOffset, count: header.parameterCount, into: output, weight: weight)
    }
}

/// acc[idx] += w·value for top-k payloads, for any value codec: the codec decodes the k kept
/// values into a scratch vector (its own dense kernel), then they are scattered. k is ~1% of n,
/// so the scratch vector and the scalar scatter loop cost little.
enum SparseKernels {
    static func accumulate(
        _ base: UnsafeRawPointer, layout: Envelope.SparseLayout, codec: some ValueCodec,
        into output: UnsafeMutablePointer<Float>, weight: Float
    ) {
        let values = UnsafeMutablePointer<Float>.allocate(capacity: max(layout.count, 1))
        defer { values.deallocate() }
        values.initialize(repeating: 0, count: layout.count)
        codec.accumulate(base + layout.valuesOffset, count: layout.count, into: values, weight: 1)
        var cursor = layout.indexOffset
        let end = layout.indexOffset + layout.indexByteCount
        var index = 0
        for position in 0..<layout.count {
            // Indices were validated in `Envelope.init`, so every varint is known to be well-formed.
            let gap = Int(Varint.read(base, offset: &cursor, end: end) ?? 0)
            index = position == 0 ? gap : index + gap
            output[index] += weight * values[position]
        }
    }
}
