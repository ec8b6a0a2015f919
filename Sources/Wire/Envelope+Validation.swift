extension Envelope {
    /// Checks the codec output's structure and values; returns the top-k layout for sparse payloads.
    static func validatePayload(
        _ bytes: UnsafeRawBufferPointer, offset: Int, length: Int, header: MessageHeader, rejectNonFinite: Bool
    ) throws(WireError) -> SparseLayout? {
        let n = header.parameterCount
        let codec = header.codec
        guard codec.topkFraction != nil else {
            let expected = codec.values.encodedByteCount(count: n)
            guard length == expected else { throw .lengthMismatch(field: .encodedLength, declared: length, actual: expected) }
            if rejectNonFinite, let base = bytes.baseAddress { try codec.values.validate(base + offset, count: n) }
            return nil
        }
        guard length >= 8 else { throw .truncated(field: .topkCount, needed: 8, available: length) }
        let reader = ByteReader(bytes)
        let k = Int(reader.read(at: offset) as UInt32)
        let indexByteCount = Int(reader.read(at: offset + 4) as UInt32)
        guard k <= n else { throw .limitExceeded(field: .topkCount, value: k, limit: n) }
        guard indexByteCount <= length - 8 else {
            throw .lengthMismatch(field: .topkIndexBytes, declared: indexByteCount, actual: length - 8)
        }
        let valuesOffset = offset + 8 + indexByteCount
        let expectedValues = codec.values.encodedByteCount(count: k)
        guard length - 8 - indexByteCount == expectedValues else {
            throw .lengthMismatch(field: .values, declared: length - 8 - indexByteCount, actual: expectedValues)
        }
        let layout = SparseLayout(count: k, indexOffset: offset + 8, indexByteCount: indexByteCount, valuesOffset: valuesOffset)
        try validateIndices(bytes, layout: layout, parameterCount: n)
        if rejectNonFinite, let base = bytes.baseAddress { try codec.values.validate(base + valuesOffset, count: k) }
        return layout
    }

    private static func validateIndices(_ bytes: UnsafeRawBufferPointer, layout: SparseLayout, parameterCount n: Int) throws(WireError) {
        guard let base = bytes.baseAddress else { return }
        var cursor = layout.indexOffset
        let end = layout.indexOffset + layout.indexByteCount
        var index = -1
        for position in 0..<layout.count {
            guard let gap = Varint.read(base, offset: &cursor, end: end) else { throw .badVarint(position: position) }
            if position > 0 && gap == 0 { throw .topkIndexDuplicate(position: position, index: index) }
            let next = position == 0 ? Int(gap) : index + Int(gap)
            guard next < n else { throw .topkIndexOutOfRange(position: position, index: UInt64(next), parameterCount: n) }
            index = next
        }
        guard cursor == end else {
            throw .lengthMismatch(field: .topkIndexBytes, declared: layout.indexByteCount, actual: cursor - layout.indexOffset)
        }
    }
}
