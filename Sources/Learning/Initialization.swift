/// Seeded weight initialisation. He (Kaiming) uniform for layers followed by
/// a ReLU, Glorot (Xavier) uniform otherwise; biases start at zero.
enum Initialization {
    static func fill(
        _ weights: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, fanOut: Int, beforeReLU: Bool,
        generator: inout SeededGenerator
    ) {
        let limit = beforeReLU ? (6.0 / Double(fanIn)).squareRoot() : (6.0 / Double(fanIn + fanOut)).squareRoot()
        for i in 0..<count {
            weights[i] = Float((generator.nextUnit() * 2 - 1) * limit)
        }
    }
}
