/// Where a layer's backward pass writes its parameter gradients:
/// `target = beta * target + alpha * gradient`, over a buffer laid out like
/// the parameters. Plain gradients are (gradients, 1, 0); plain SGD with
/// weight decay is fused into the GEMMs as (parameters, -lr, 1 - lr * wd),
/// which saves two passes over the weights per step.
struct GradientTarget {
    let base: UnsafeMutablePointer<Float>
    let alpha: Float
    let beta: Float

    /// `target[i] = beta * target[i] + alpha * value` for a bias-like vector.
    @inline(__always)
    func accumulate(_ values: UnsafePointer<Float>, count: Int, at offset: Int) {
        let t = base + offset
        if beta == 0 {
            for i in 0..<count { t[i] = alpha * values[i] }
        } else {
            for i in 0..<count { t[i] = beta * t[i] + alpha * values[i] }
        }
    }
}
