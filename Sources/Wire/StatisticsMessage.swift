/// What a client of a table federation shares about its rows before training: its row count
/// and, per feature, the sum and sum of squares (Float64). The coordinator adds these up to
/// get the federation's standardisation, so no row leaves a client and the test set is never
/// looked at. A separate message (its own magic, `FDQS`) rather than a fifth envelope kind,
/// because it carries no parameter vector and old decoders must keep rejecting it cleanly.
///
/// Layout (little-endian, docs/wire-format.md "Statistics message"):
///
///     0  magic u32 "FDQS"    4  formatVersion u16 = 1   6  reserved u16 = 0
///     8  specHash u64       16  clientID u64            24  count u64
///    32  featureCount u32   36  reserved u32 = 0
///    40  sums f64 × n, then sumsOfSquares f64 × n, then CRC32C u32 of every byte before it.
public struct StatisticsMessage: Sendable, Equatable {
    public static let magic: UInt32 = 0x5351_4446
    public static let formatVersion: UInt16 = 1
    public static let headerByteCount = 40
    /// The AMQP content type, like the envelope kinds' (`MessageKind.contentType`).
    public static let contentType = "application/x-fedq-statistics"
    /// Slack for rounding in `sumsOfSquares / n − mean²`: a constant feature's variance may
    /// come out a little below zero in Float64; more than this (relative) is a lie.
    public static let varianceTolerance = 1e-9

    public var specHash: UInt64
    public var clientID: UInt64
    public var count: UInt64
    public var sums: [Double]
    public var sumsOfSquares: [Double]

    public init(specHash: UInt64, clientID: UInt64, count: UInt64, sums: [Double], sumsOfSquares: [Double]) {
        self.specHash = specHash
        self.clientID = clientID
        self.count = count
        self.sums = sums
        self.sumsOfSquares = sumsOfSquares
    }

    public var featureCount: Int { sums.count }

    /// The message's bytes; refuses what a decoder would reject, so a client cannot send it.
    /// - Throws: `WireError` for mismatched lengths, non-finite values, count 0, negative variance.
    public func encoded() throws(WireError) -> [UInt8] {
        guard sums.count == sumsOfSquares.count else {
            throw .inconsistentInput(field: .sumsOfSquares, reason: "\(sumsOfSquares.count) sums of squares for \(sums.count) sums")
        }
        try validate()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerByteCount + 16 * featureCount + 4)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(Self.magic)
        append(Self.formatVersion)
        append(UInt16(0))
        append(specHash)
        append(clientID)
        append(count)
        append(UInt32(featureCount))
        append(UInt32(0))
        for value in sums + sumsOfSquares { append(value.bitPattern) }
        append(CRC32C.checksum(bytes))
        return bytes
    }

    /// Decodes and validates a statistics message for a model with `featureCount` inputs and
    /// `specHash`. Never traps: any bytes give a message or a typed `WireError`.
    public init(bytes: [UInt8], featureCount expectedFeatures: Int, specHash expectedHash: UInt64) throws(WireError) {
        let result: Result<StatisticsMessage, WireError> = bytes.withUnsafeBytes { raw in
            Result { () throws(WireError) in try Self.decode(raw, expectedFeatures, expectedHash) }
        }
        self = try result.get()
    }

    private static func decode(_ raw: UnsafeRawBufferPointer, _ expectedFeatures: Int, _ expectedHash: UInt64) throws(WireError)
        -> StatisticsMessage
    {
        let reader = ByteReader(raw)
        guard raw.count >= 4 else { throw .truncated(field: .magic, needed: 4, available: raw.count) }
        let magic: UInt32 = reader.read(at: 0)
        guard magic == Self.magic else { throw .badMagic(found: magic) }
        guard raw.count >= headerByteCount + 4 else {
            throw .truncated(field: .featureCount, needed: headerByteCount + 4, available: raw.count)
        }
        let version: UInt16 = reader.read(at: 4)
        guard version == formatVersion else { throw .unsupportedFormatVersion(version) }
        guard reader.read(at: 6) as UInt16 == 0, reader.read(at: 36) as UInt32 == 0 else { throw .reservedNotZero(field: .reserved) }
        let features = Int(reader.read(at: 32) as UInt32)
        let expectedLength = headerByteCount + 16 * features + 4
        guard raw.count == expectedLength else { throw .lengthMismatch(field: .featureCount, declared: expectedLength, actual: raw.count) }
        let declared: UInt32 = reader.read(at: raw.count - 4)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)]))
        guard declared == computed else { throw .checksumMismatch(declared: declared, computed: computed) }
        let hash: UInt64 = reader.read(at: 8)
        guard hash == expectedHash else { throw .specHashMismatch(expected: expectedHash, found: hash) }
        guard features == expectedFeatures else { throw .featureCountMismatch(expected: expectedFeatures, found: features) }
        func double(_ index: Int) -> Double { Double(bitPattern: reader.read(at: headerByteCount + 8 * index)) }
        let message = StatisticsMessage(
            specHash: hash, clientID: reader.read(at: 16), count: reader.read(at: 24),
            sums: (0..<features).map(double), sumsOfSquares: (features..<(2 * features)).map(double))
        try message.validate()
        return message
    }

    /// The checks both directions share: a count, finite numbers, a variance that is not negative.
    private func validate() throws(WireError) {
        guard count > 0 else { throw .zeroCount }
        if let index = sums.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(field: .sums, index: index) }
        if let index = sumsOfSquares.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw sumsOfSquares[index] < 0 ? .negativeVariance(feature: index) : .nonFinite(field: .sumsOfSquares, index: index)
        }
        let n = Double(count)
        for j in sums.indices {
            let mean = sums[j] / n
            let squares = sumsOfSquares[j] / n
            if squares < mean * mean - Self.varianceTolerance * max(1, mean * mean) { throw .negativeVariance(feature: j) }
        }
    }
}
