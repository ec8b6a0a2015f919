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

    /// `add` with the system's cryptographically secure generator.
    public static func add(standardDeviation: Double, to values: inout [Float]) {
        var generator = SystemRandomNumberGenerator()
        add(standardDeviation: standardDeviation, to: &values, using: &generator)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
