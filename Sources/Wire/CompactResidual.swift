/// An error-feedback residual kept as int8 codes with one fp32 scale per 256 values: the
/// layout and kernels of the `int8:256` wire codec (``Int8Codec``), so there is one int8
/// quantiser in the project, not a second one for client state.
///
/// Why this form (issue 18, item 5; BENCHMARKS.md "10,000 clients"): a top-k client must
/// remember the 99% of its update it did not send, and that residual is dense (almost
/// every coordinate is non-zero), so a sparse form saves nothing; fp16 halves it and leaves
/// 10,000 mlp clients near 4 GB; spilling to a file or recomputing makes every turn pay
/// disk or training time. int8 with 256-value blocks is 1.016 bytes per parameter, a
/// quarter of fp32 (203 KB instead of 814 KB for the mlp), and costs nothing measurable in
/// accuracy.
///
/// Rounding is stochastic, as on the wire, on purpose: a residual coordinate smaller than
/// half a quantisation step (a slowly accumulating one in a block with a large entry) would
/// round to zero every time under round-to-nearest and never reach the threshold top-k
/// sends at, which is the bias error feedback exists to remove. Stochastically rounded, it
/// survives in expectation, and the storage error (under one step, `max|block| / 127`, per
/// value) is noise with mean zero.
public struct CompactResidual: Sendable, Equatable {
    /// The quantiser: the smallest block `int8` allows, so one large coordinate coarsens
    /// only 255 others.
    public static let codec = Int8Codec(blockSize: 256)

    /// How many values the residual stands for.
    public let count: Int
    /// `codec.encodedByteCount(count:)` bytes (scales, then codes), or none while every
    /// value is zero (a client that has not trained yet costs nothing).
    public private(set) var bytes: [UInt8]

    /// The zero residual of `count` values.
    public init(zeros count: Int) {
        self.count = count
        bytes = []
    }

    /// Quantises `values`, which must be finite (a residual is what is left of an update the
    /// envelope accepted, so it is).
    public init(_ values: [Float], random: inout VectorRandom) {
        precondition(values.allSatisfy(\.isFinite), "a residual must be finite")
        count = values.count
        guard values.contains(where: { $0 != 0 }) else {
            bytes = []
            return
        }
        let codec = Self.codec
        bytes = [UInt8](unsafeUninitializedCapacity: codec.encodedByteCount(count: values.count)) { buffer, initialized in
            values.withUnsafeBufferPointer { codec.encode($0, into: UnsafeMutableRawBufferPointer(buffer), random: &random) }
            initialized = buffer.count
        }
    }

    /// Adds the residual's values to `values` (of the same count).
    public func add(to values: inout [Float]) {
        precondition(values.count == count, "residual of \(count) values added to \(values.count)")
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { payload in
            values.withUnsafeMutableBufferPointer { output in
                Self.codec.accumulate(payload.baseAddress!, count: count, into: output.baseAddress!, weight: 1)
            }
        }
    }

    /// The values it stands for.
    public var values: [Float] {
        var values = [Float](repeating: 0, count: count)
        add(to: &values)
        return values
    }

    /// Bytes held for the values (0 while all are zero).
    public var byteCount: Int { bytes.count }
}
