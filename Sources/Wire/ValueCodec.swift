/// How the values of a message are represented on the wire: one type per codec (fp32, fp16,
/// int8, ...), registered once in ``ValueCodecRegistry``.
///
/// A codec owns everything about its representation: its header byte, its spelling in codec spec
/// strings, the size of its output, encoding, validation of received bytes and the
/// decode-and-accumulate kernel. The envelope (header, top-k, deflate, checksum) calls it once per
/// message through the existential, and each codec's loops are concrete code, so there is no
/// dynamic dispatch per value.
///
/// Layout contract: the codec output for `count` values is exactly
/// ``encodedByteCount(count:)`` bytes, and may start at any byte offset (top-k values follow the
/// varint index list), so implementations load with `loadUnaligned`.
///
/// To add a codec: one file with a type conforming to this protocol, one line in
/// ``ValueCodecRegistry/codecs``, its layout in docs/wire-format.md, and its tests.
public protocol ValueCodec: Hashable, Sendable, CustomStringConvertible {
    /// Header byte 9 (`valueCodec`). Unique among the registered codecs; 0 is never used.
    static var wireID: UInt8 { get }
    /// The stage name in codec spec strings (`int8` in `topk:0.01+int8:256`), lowercase.
    static var name: String { get }
    /// How the stage is written, for error messages and help (`int8[:BLOCK]`).
    static var syntax: String { get }
    /// The codec with its default parameters (what `name` alone means in a spec string).
    static var standard: Self { get }

    /// The codec's parameter as header bytes 12–13 carry it (`0` for codecs without one).
    var wireParameter: UInt16 { get }
    /// The codec that header bytes 12–13 describe.
    /// - Throws: a typed ``WireError`` for a parameter outside the format.
    init(wireParameter: UInt16) throws(WireError)
    /// The codec for a spec-string stage; `parameter` is the text after the colon, if any.
    /// - Throws: ``CodecSpecError`` naming the stage.
    init(parameter: String?) throws(CodecSpecError)
    /// Checks the parameters of a codec built in code rather than parsed (before encoding).
    func validateParameters() throws(WireError)

    /// `description` is the canonical spelling in spec strings (defaults omitted): parsing it
    /// with ``init(parameter:)`` gives back an equal codec.

    /// Whether encoding draws random numbers (stochastic rounding). Encoders of other codecs
    /// leave the caller's generator untouched.
    var isStochastic: Bool { get }
    /// Whether decoding gives back every finite fp32 value exactly (fp32 only). A worker
    /// sums updates of lossy codecs into an fp16 partial (``PartialPrecision``), and keeps
    /// fp32 as soon as one exact update is in the sum. Default: false.
    var isExact: Bool { get }
    /// Bytes of codec output for `count` values.
    func encodedByteCount(count: Int) -> Int
    /// Refuses finite values this codec cannot represent (the envelope has already refused
    /// NaN and infinities). Default: accepts everything.
    func checkEncodable(_ values: UnsafeBufferPointer<Float>) throws(WireError)
    /// Encodes finite `values` into `output`, which has exactly ``encodedByteCount(count:)`` bytes
    /// (zeroed). `random` is seeded from the caller's generator when ``isStochastic``.
    func encode(_ values: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer, random: inout VectorRandom)
    /// Checks received codec output for `count` values (its length already checked): everything
    /// that could make ``accumulate(_:count:into:weight:)`` produce NaN/Inf or read garbage.
    /// - Throws: a typed ``WireError`` (``WireError/nonFinite(field:index:)``, ``WireError/invalidScale(block:)``, ...).
    func validate(_ payload: UnsafeRawPointer, count: Int) throws(WireError)
    /// The hot path: `output[i] += weight · decode(payload)[i]` for `i < count`, on validated bytes.
    func accumulate(_ payload: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>, weight: Float)
    /// Σ decode(payload)[i]² for `i < count`, in Double, on validated bytes: every update's
    /// norm is taken at the worker before it is clipped. The default decodes into a
    /// temporary vector; a codec can read it off its own bytes instead (int8 does).
    func squaredNorm(_ payload: UnsafeRawPointer, count: Int) -> Double
}

extension ValueCodec {
    public var isStochastic: Bool { false }
    public var isExact: Bool { false }

    public func squaredNorm(_ payload: UnsafeRawPointer, count: Int) -> Double {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { accumulate(payload, count: count, into: base, weight: 1) }
        }
        return values.reduce(0.0) { $0 + Double($1) * Double($1) }
    }
    public func checkEncodable(_ values: UnsafeBufferPointer<Float>) throws(WireError) {}
    public func validateParameters() throws(WireError) {}
}

/// The one list of value codecs this build reads and writes.
public enum ValueCodecRegistry {
    /// Every registered codec, in the order help texts and `fedq bench codecs` list them.
    public static let codecs: [any ValueCodec.Type] = [
        FP32Codec.self,
        FP16Codec.self,
        Int8Codec.self,
        Int4Codec.self,
    ]

    private static let byWireID: [UInt8: any ValueCodec.Type] = {
        var table: [UInt8: any ValueCodec.Type] = [:]
        for codec in codecs {
            precondition(codec.wireID != 0 && table[codec.wireID] == nil, "duplicate value codec id \(codec.wireID)")
            table[codec.wireID] = codec
        }
        return table
    }()

    private static let byName: [String: any ValueCodec.Type] = {
        var table: [String: any ValueCodec.Type] = [:]
        for codec in codecs {
            precondition(table[codec.name] == nil, "duplicate value codec name \(codec.name)")
            table[codec.name] = codec
        }
        return table
    }()

    /// The codec whose header byte 9 is `wireID`.
    public static func codec(wireID: UInt8) -> (any ValueCodec.Type)? { byWireID[wireID] }

    /// The codec whose spec-string stage name is `name` (lowercase).
    public static func codec(named name: String) -> (any ValueCodec.Type)? { byName[name] }

    /// Every codec with its default parameters, spelled as in spec strings (`fp32`, `fp16`, `int8`, ...).
    public static var standardSpellings: [String] { codecs.map { $0.standard.description } }

    /// `fp32|fp16|int8[:BLOCK]|...` for help and error texts.
    static var syntaxSummary: String { codecs.map { $0.syntax }.joined(separator: "|") }

    /// `fp32|fp16|int8|...`.
    static var nameSummary: String { codecs.map { $0.name }.joined(separator: "|") }
}
