/// Adds N(0, s²) noise to a sum, in place.
///
/// Production draws from `SystemRandomNumberGenerator` (the kernel's CSPRNG): noise from a
/// seeded generator could be regenerated and subtracted by anyone who learns the seed,
/// which would void the guarantee. Tests pass a seeded generator to check the statistics.
/// Normals come from the Box–Muller transform in Double, two per pair of uniforms (no
/// library in the allowed set samples normals).
public enum GaussianNoise {
    public static func add(
        standardDeviation: Double, to values: inout [Float], using generator: inout some RandomNumberGenerator
    ) {
        guard standardDeviation > 0 else { return }
        let count = values.count
        values.withUnsafeMutableBufferPointer { buffer in
            var index = 0
            while index < count {
                // u1 in (0, 1]: never log(0).
                let u1 = Double(generator.next() >> 11 + 1) * 0x1p-53
                let u2 = Double(generator.next() >> 11) * 0x1p-53
                let radius = standardDeviation * (-2 * log(u1)).squareRoot()
                let angle = 2 * Double.pi * u2
                buffer[index] += Float(radius * cos(angle))
                if index + 1 < count { buffer[index + 1] += Float(radius * sin(angle)) }
                index += 2
            }
        }
    }

    /// `add` with the system's cryptographically secure generator, read in bulk.
    public static func add(standardDeviation: Double, to values: inout [Float]) {
        var generator = BulkSystemRandom()
        add(standardDeviation: standardDeviation, to: &values, using: &generator)
    }
}

/// The kernel's CSPRNG read 32 KiB at a time. `SystemRandomNumberGenerator` makes one
/// `getrandom` call per 64-bit draw: for a 200k-parameter model's noise that is 200,000
/// system calls, which made every private aggregate take a few hundred milliseconds.
/// The bytes are the same kernel's; only the calls are batched.
struct BulkSystemRandom: RandomNumberGenerator {
    private var buffer = [UInt64](repeating: 0, count: 4096)
    private var position = 4096

    mutating func next() -> UInt64 {
        if position == buffer.count { refill() }
        defer { position += 1 }
        return buffer[position]
    }

    private mutating func refill() {
        buffer.withUnsafeMutableBytes { bytes in
            #if canImport(Glibc)
            // /dev/urandom is the same pool as getrandom(2), which Glibc's Swift module
            // does not expose; it never blocks once the kernel has booted.
            let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            precondition(fd >= 0, "cannot open /dev/urandom: errno \(errno)")
            defer { close(fd) }
            var filled = 0
            while filled < bytes.count {
                let count = read(fd, bytes.baseAddress! + filled, bytes.count - filled)
                if count > 0 { filled += count } else { precondition(errno == EINTR, "reading /dev/urandom failed: errno \(errno)") }
            }
            #else
            arc4random_buf(bytes.baseAddress!, bytes.count)
            #endif
        }
        position = 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
