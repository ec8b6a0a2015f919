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

/// acc += w·x for each dense payload representation. Plain loops with unaligned loads, which
/// LLVM vectorises; measured faster than hand-written SIMD16 code with Swift's generic
/// conversions (see docs/benchmarks-wire.md).
enum DenseKernels {
    static func accumulateFloat(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>, weight: Float) {
        for index in 0..<count {
            output[index] += weight * source.loadUnaligned(fromByteOffset: 4 &* index, as: Float.self)
        }
    }

    static func accumulateHalf(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>, weight: Float) {
        for index in 0..<count {
            output[index] += weight * Float16Bits.toFloat(source.loadUnaligned(fromByteOffset: 2 &* index, as: UInt16.self))
        }
    }

    static func accumulateInt8(
        _ source: UnsafeRawPointer, count: Int, blockSize: Int, into output: UnsafeMutablePointer<Float>, weight: Float
    ) {
        let blocks = Int8Quantizer.blockCount(count: count, blockSize: blockSize)
        let codes = (source + 4 * blocks).assumingMemoryBound(to: Int8.self)
        for block in 0..<blocks {
            let scale = weight * Float(bitPattern: source.loadUnaligned(fromByteOffset: 4 * block, as: UInt32.self))
            let start = block * blockSize
            let end = min(start + blockSize, count)
            for index in start..<end { output[index] += scale * Float(codes[index]) }
        }
    }
}

/// acc[idx] += w·value for top-k payloads; k is ~1% of n, so a scalar loop is fine.
enum SparseKernels {
    static func accumulate(
        _ base: UnsafeRawPointer, layout: Envelope.SparseLayout, codec: CodecSpec.ValueCodec,
        into output: UnsafeMutablePointer<Float>, weight: Float
    ) {
        var cursor = layout.indexOffset
        let end = layout.indexOffset + layout.indexByteCount
        let values = base + layout.valuesOffset
        var index = 0
        switch codec {
        case .fp32:
            for position in 0..<layout.count {
                index = nextIndex(base, cursor: &cursor, end: end, previous: index, position: position)
                output[index] += weight * values.loadUnaligned(fromByteOffset: 4 * position, as: Float.self)
            }
        case .fp16:
            for position in 0..<layout.count {
                index = nextIndex(base, cursor: &cursor, end: end, previous: index, position: position)
                output[index] += weight * Float16Bits.toFloat(values.loadUnaligned(fromByteOffset: 2 * position, as: UInt16.self))
            }
        case .int8(let blockSize):
            let codes = values + 4 * Int8Quantizer.blockCount(count: layout.count, blockSize: blockSize)
            for position in 0..<layout.count {
                index = nextIndex(base, cursor: &cursor, end: end, previous: index, position: position)
                let scale = Float(bitPattern: values.loadUnaligned(fromByteOffset: 4 * (position / blockSize), as: UInt32.self))
                output[index] += weight * scale * Float(codes.load(fromByteOffset: position, as: Int8.self))
            }
        }
    }

    /// Indices were validated in `Envelope.init`, so the varint is known to be well-formed.
    @inline(__always)
    private static func nextIndex(_ base: UnsafeRawPointer, cursor: inout Int, end: Int, previous: Int, position: Int) -> Int {
        let gap = Int(Varint.read(base, offset: &cursor, end: end) ?? 0)
        return position == 0 ? gap : previous + gap
    }
}
