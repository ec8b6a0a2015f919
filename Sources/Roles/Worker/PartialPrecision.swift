import Wire

/// The codec a partial's weighted sum travels in: fp16 when nothing in the sum was exact,
/// fp32 otherwise.
///
/// Why: on one RabbitMQ node the quorum queues' write-ahead log is what caps the pipeline
/// (BENCHMARKS.md, "The pipeline against the C loop"), and every partial crosses it. An
/// fp32 partial of the 200 KB int8 mlp is 800 KB, about 13% of the log's bytes at the
/// default flush; fp16 halves that. It costs nothing the updates had: an int8 or int4
/// update's values already carry an error of up to half a quantisation step (≥ 2⁻⁹ of its
/// block's largest value), and fp16's round-to-nearest adds at most 2⁻¹² of each summed
/// value. An fp32 update is exact, so one in the sum keeps the partial exact too.
///
/// A sum with a value beyond fp16's range (±65504) also travels as fp32; values too small
/// for a normal half (below 6.1·10⁻⁵) keep an absolute error under 3·10⁻⁸.
public enum PartialPrecision {
    public static let reduced = CodecSpec(values: .fp16)

    public static func codec(for sum: [Float], holdsExactUpdates: Bool) -> CodecSpec {
        guard !holdsExactUpdates else { return .fp32 }
        do {
            try sum.withUnsafeBufferPointer { values throws(WireError) in try FP16Codec().checkEncodable(values) }
            return reduced
        } catch {
            return .fp32
        }
    }
}
