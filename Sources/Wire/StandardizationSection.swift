/// The standardisation a model version carries in a table federation: per feature the mean
/// and deviation every role must apply, so clients and the evaluator scale their rows with
/// exactly the model's numbers (merged from the clients' statistics), never their own.
///
/// Bytes (little-endian): featureCount u32, means f32 × n, deviations f32 × n. The envelope
/// that carries it covers it with its CRC and signature (docs/wire-format.md).
public struct StandardizationSection: Sendable, Equatable {
    public var means: [Float]
    public var deviations: [Float]

    public init(means: [Float], deviations: [Float]) {
        self.means = means
        self.deviations = deviations
    }

    public var byteCount: Int { 4 + 8 * means.count }

    /// - Throws: `WireError` when the lengths differ or a value would not decode.
    public func encoded() throws(WireError) -> [UInt8] {
        guard means.count == deviations.count else {
            throw .inconsistentInput(field: .deviations, reason: "\(deviations.count) deviations for \(means.count) means")
        }
        try Self.validate(means: means, deviations: deviations)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        withUnsafeBytes(of: UInt32(means.count).littleEndian) { bytes += $0 }
        for value in means + deviations { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        return bytes
    }

    /// Reads the section at the reader's cursor for a table of `featureCount` features.
    /// - Throws: `WireError` for a truncated section, another width, a non-finite mean or a
    ///   deviation that is not finite and positive (dividing by it would make NaNs).
    public init(reading reader: inout ByteReader, featureCount: Int) throws(WireError) {
        guard let count = reader.read(UInt32.self) else {
            throw .truncated(field: .featureCount, needed: 4, available: reader.remaining)
        }
        guard Int(count) == featureCount else { throw .featureCountMismatch(expected: featureCount, found: Int(count)) }
        guard let means = reader.readFloats(count: featureCount), let deviations = reader.readFloats(count: featureCount) else {
            throw .truncated(field: .means, needed: 8 * featureCount, available: reader.remaining)
        }
        try Self.validate(means: means, deviations: deviations)
        self.init(means: means, deviations: deviations)
    }

    private static func validate(means: [Float], deviations: [Float]) throws(WireError) {
        if let index = means.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(field: .means, index: index) }
        if let index = deviations.firstIndex(where: { !($0.isFinite && $0 > 0) }) { throw .invalidDeviation(feature: index) }
    }
}
