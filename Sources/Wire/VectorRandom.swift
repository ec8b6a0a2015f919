/// xoshiro128+ running in 16 independent SIMD lanes: 16 uniform floats per step with no scalar
/// work, so stochastic rounding costs a few instructions per value instead of a
/// `RandomNumberGenerator` call each (which would cap int8 encoding far below 1 GB/s).
/// Public for ``ValueCodec`` implementations: the envelope seeds one per message from the
/// caller's generator and hands it to stochastic codecs.
public struct VectorRandom {
    private var s0, s1, s2, s3: SIMD16<UInt32>

    /// Seeds the 64 state words from `seed` with splitmix64, as the xoshiro authors recommend.
    public init(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var words = [SIMD16<UInt32>](repeating: .zero, count: 4)
        for vector in 0..<4 {
            for lane in stride(from: 0, to: 16, by: 2) {
                let value = generator.next()
                words[vector][lane] = UInt32(truncatingIfNeeded: value)
                words[vector][lane + 1] = UInt32(truncatingIfNeeded: value >> 32) | 1
            }
        }
        (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3])
    }

    /// 16 floats uniform on [0, 1) with 23 random bits each.
    @inline(__always)
    public mutating func nextUnitFloats() -> SIMD16<Float> {
        let result = s0 &+ s3
        let t = s1 &<< 9
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 &<< 11) | (s3 &>> 21)
        let oneToTwo = unsafeBitCast((result &>> 9) | 0x3F80_0000, to: SIMD16<Float>.self)
        return oneToTwo - 1
    }
}
