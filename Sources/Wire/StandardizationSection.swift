/// The standardisation section a model version of a table federation carries (flag
/// ``Envelope/standardizationFlag``), so clients and the evaluator scale their rows with
/// exactly the model's numbers (merged from the clients' statistics), never their own.
///
/// Bytes (little-endian): featureCount u32, means f32 × n, deviations f32 × n. The envelope
/// that carries it covers it with its CRC and signature (docs/wire-format.md).
extension Standardization {
    public var sectionByteCount: Int { 4 + 8 * means.count }

    /// - Throws: `WireError` when the lengths differ or a value would not decode.
    public func encodedSection() throws(WireError) -> [UInt8] {
        guard means.count == deviations.count else {
            throw .inconsistentInput(field: .deviations, reason: "\(deviations.count) deviations for \(means.count) means")
        }
        try Self.validate(means: means, deviations: deviations)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(sectionByteCount)
        withUnsafeBytes(of: UInt32(means.count).littleEndian) { bytes += $0 }
        for value in means + deviations { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        return bytes
    }

    /// Reads the section at the reader's cursor for a table of `featureCount` features (nil:
    /// whatever width the section declares, for a reader that does not know the model).
    /// - Throws: `WireError` for a truncated section, another width, a non-finite mean or a
    ///   deviation that is not finite and positive (dividing by it would make NaNs).
    public init(readingSection reader: inout ByteReader, featureCount: Int?) throws(WireError) {
        guard let count = reader.read(UInt32.self) else {
            throw .truncated(field: .featureCount, needed: 4, available: reader.remaining)
        }
        let width = Int(count)
        if let featureCount, width != featureCount { throw .featureCountMismatch(expected: featureCount, found: width) }
        guard 8 * width <= reader.remaining, let means = reader.readFloats(count: width),
            let deviations = reader.readFloats(count: width)
        else {
            throw .truncated(field: .means, needed: 8 * width, available: reader.remaining)
        }
        try Self.validate(means: means, deviations: deviations)
        self.init(means: means, deviations: deviations)
    }

    private static func validate(means: [Float], deviations: [Float]) throws(WireError) {
        if let index = means.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(field: .means, index: index) }
        if let index = deviations.firstIndex(where: { !($0.isFinite && $0 > 0) }) { throw .invalidDeviation(feature: index) }
    }
}
