/// acc += w·x for each dense payload representation. Plain loops with unaligned loads, which
/// LLVM vectorises; measured faster than hand-written SIMD16 code with Swift's generic
/// conversions (see BENCHMARKS.md, "Wire codecs").
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
