import Crypto
import CryptoExtras
import Foundation

/// Adds N(0, s²) noise to a sum, in place.
///
/// Production draws from `BulkSystemRandom` (a ChaCha20 keystream keyed from the kernel's
/// CSPRNG): noise from a seeded generator could be regenerated and subtracted by anyone who
/// learns the seed, which would void the guarantee. Tests pass a seeded generator to check the statistics.
/// Normals come from the ziggurat method (`Ziggurat`; no library in the allowed set samples
/// normals): one 64-bit draw, a table lookup and a multiplication for 98.5% of them, where
/// Box–Muller spent a logarithm, a square root and a sine or cosine on each (BENCHMARKS.md,
/// "Drawing the noise", `fedq bench dp-sgd`). DP-SGD pays it on every step.
public enum GaussianNoise {
    public static func add(
        standardDeviation: Double, to values: inout [Float], using generator: inout some RandomNumberGenerator
    ) {
        values.withUnsafeMutableBufferPointer { add(standardDeviation: standardDeviation, to: $0, using: &generator) }
    }

    /// `add` over a buffer: DP-SGD noises each step's gradient sum in the network's own buffer.
    public static func add(
        standardDeviation: Double, to buffer: UnsafeMutableBufferPointer<Float>, using generator: inout some RandomNumberGenerator
    ) {
        draw(standardDeviation: standardDeviation, into: buffer, using: &generator)
    }

    /// `add` with the production generator. Its own entry, not only the generic one: called
    /// from another module (the client's training, the benchmarks), the generic entry is not
    /// specialised, so every draw went through the protocol to an out-of-line `next()`; here
    /// the generator's type is known inside this module, and the loop is compiled for it.
    public static func add(
        standardDeviation: Double, to buffer: UnsafeMutableBufferPointer<Float>, using generator: inout BulkSystemRandom
    ) {
        draw(standardDeviation: standardDeviation, into: buffer, using: &generator)
    }

    /// `add(standardDeviation:to:using:)` over an array, with the production generator.
    public static func add(standardDeviation: Double, to values: inout [Float], using generator: inout BulkSystemRandom) {
        values.withUnsafeMutableBufferPointer { draw(standardDeviation: standardDeviation, into: $0, using: &generator) }
    }

    /// The ziggurat loop behind every `add`.
    @inline(__always)
    private static func draw(
        standardDeviation: Double, into buffer: UnsafeMutableBufferPointer<Float>, using generator: inout some RandomNumberGenerator
    ) {
        guard standardDeviation > 0 else { return }
        Ziggurat.tables.withUnsafeBufferPointers { x, f in
            for index in buffer.indices {
                buffer[index] += Float(standardDeviation * Ziggurat.next(x: x, f: f, using: &generator))
            }
        }
    }

    /// `add` with the system's cryptographically secure generator, read in bulk.
    public static func add(standardDeviation: Double, to values: inout [Float]) {
        var generator = BulkSystemRandom()
        add(standardDeviation: standardDeviation, to: &values, using: &generator)
    }
}

/// A ChaCha20 keystream under a 256-bit key drawn from the kernel's CSPRNG when the
/// generator is made, read 256 KiB at a time. The kernel's own `getrandom` is ChaCha20 too,
/// but reading it costs a system call per 32 KiB and ran at ~300 MB/s here. swift-crypto's
/// bare ChaCha20 (`Insecure.ChaCha20CTR` in CryptoExtras: BoringSSL, vectorised; "insecure"
/// only in that it authenticates nothing, which a keystream does not need) makes the same
/// stream in-process, several times faster: encrypting zeros under a fresh key yields the
/// keystream itself. Each refill uses the next 96-bit nonce (a counter), so no block of the
/// stream is ever produced twice, and a new generator has a new key. Until 2026-12-07 it
/// sealed the zeros with ChaCha20-Poly1305, whose tag cost a third of the time and was
/// thrown away (BENCHMARKS.md, "Drawing the noise").
public struct BulkSystemRandom: RandomNumberGenerator {
    private static let words = 32_768
    private static let zeros = Data(count: words * 8)
    private let key = SymmetricKey(size: .bits256)
    private var nonce: UInt64 = 0
    private var buffer = [UInt64](repeating: 0, count: words)
    private var position = words

    public init() {}

    public mutating func next() -> UInt64 {
        if position == buffer.count { refill() }
        defer { position += 1 }
        return buffer[position]
    }

    private mutating func refill() {
        var nonceBytes = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: nonce.littleEndian) { nonceBytes.replaceSubrange(0..<8, with: $0) }
        nonce += 1
        do {
            let stream = try Insecure.ChaCha20CTR.encrypt(
                Self.zeros, using: key, nonce: try Insecure.ChaCha20CTR.Nonce(data: nonceBytes))
            buffer.withUnsafeMutableBytes { words in
                stream.withUnsafeBytes { stream in words.copyMemory(from: UnsafeRawBufferPointer(rebasing: stream[..<words.count])) }
            }
        } catch {
            // A 12-byte nonce and a 256-bit key are always valid: this cannot happen.
            preconditionFailure("ChaCha20 refused a valid key and nonce: \(error)")
        }
        position = 0
    }
}

/// Standard normal samples by the ziggurat method (Marsaglia and Tsang 2000) in Doornik's
/// ZIGNOR form (2005), with 256 layers of equal area under the density's right half. A draw
/// picks a layer from 8 bits and a signed position in it from 53 others; inside the part of
/// the layer that lies wholly under the curve (98.5% of draws) it is the sample. Otherwise it
/// is accepted by comparing a second uniform with the density, or, in the base layer, drawn
/// from the tail beyond r by Marsaglia's method. Every branch is exact rejection sampling,
/// so the samples are normal up to the Double arithmetic, as Box–Muller's were.
enum Ziggurat {
    /// The right edge of the last layer below the tail.
    static let r = 3.6541528853610088
    /// Each layer's area (and the base layer's, the tail included).
    static let area = 0.00492867323399

    /// x[i]: layer i's right edge (x[0] the base layer's equivalent width, x[256] = 0);
    /// f[i] = exp(−x[i]²/2).
    struct Tables {
        var x: [Double]
        var f: [Double]

        func withUnsafeBufferPointers<R>(_ body: (UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>) -> R) -> R {
            x.withUnsafeBufferPointer { x in f.withUnsafeBufferPointer { f in body(x, f) } }
        }
    }

    static let tables: Tables = {
        func density(_ x: Double) -> Double { exp(-0.5 * x * x) }
        var x = [Double](repeating: 0, count: 257)
        x[0] = area / density(r)
        x[1] = r
        for i in 2..<256 { x[i] = (-2 * log(area / x[i - 1] + density(x[i - 1]))).squareRoot() }
        x[256] = 0
        return Tables(x: x, f: x.map(density))
    }()

    @inline(__always)
    static func next(x: UnsafeBufferPointer<Double>, f: UnsafeBufferPointer<Double>, using generator: inout some RandomNumberGenerator) -> Double {
        while true {
            let bits = generator.next()
            let layer = Int(bits & 0xFF)
            // Bits 11…63 as a signed 53-bit integer: u uniform in [−1, 1), independent of the layer.
            let u = Double(Int64(bitPattern: bits) >> 11) * 0x1p-52
            let candidate = u * x[layer]
            if abs(candidate) < x[layer + 1] { return candidate }
            if layer == 0 { return tail(negative: u < 0, using: &generator) }
            let height = f[layer + 1] + (f[layer] - f[layer + 1]) * unit(generator.next())
            if height < exp(-0.5 * candidate * candidate) { return candidate }
        }
    }

    /// A sample beyond ±r (Marsaglia 1964): x = −ln(U₁)/r, accepted when −2 ln(U₂) ≥ x².
    static func tail(negative: Bool, using generator: inout some RandomNumberGenerator) -> Double {
        while true {
            let beyond = -log(openUnit(generator.next())) / r
            let y = -log(openUnit(generator.next()))
            if 2 * y >= beyond * beyond { return negative ? -(r + beyond) : r + beyond }
        }
    }

    /// Uniform in [0, 1).
    @inline(__always)
    static func unit(_ bits: UInt64) -> Double { Double(bits >> 11) * 0x1p-53 }

    /// Uniform in (0, 1]: never log(0).
    @inline(__always)
    static func openUnit(_ bits: UInt64) -> Double { Double(bits >> 11 + 1) * 0x1p-53 }
}
