import Foundation

/// Softmax followed by cross-entropy, fused: one pass per row computes the
/// numerically stable log-sum-exp (max subtracted), the loss, the predicted
/// class and the gradient `(softmax - onehot) / batch` of the mean loss.
enum SoftmaxCrossEntropy {
    struct Outcome {
        var lossSum: Float
        var correct: Int
    }

    /// - Parameter gradient: when non-nil, receives d(mean loss)/d(logits).
    /// - Parameter predictions: when non-nil, receives each row's arg-max.
    static func evaluate(
        logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int,
        gradient: UnsafeMutablePointer<Float>?, predictions: UnsafeMutablePointer<Int32>?
    ) -> Outcome {
        var outcome = Outcome(lossSum: 0, correct: 0)
        let scale = 1 / Float(batch)
        for row in 0..<batch {
            let z = logits + row * classes
            var best = 0
            for c in 1..<classes where z[c] > z[best] { best = c }
            let maximum = z[best]
            var sum: Float = 0
            for c in 0..<classes { sum += expf(z[c] - maximum) }
            let label = Int(labels[row])
            outcome.lossSum += logf(sum) - (z[label] - maximum)
            if best == label { outcome.correct += 1 }
            predictions?[row] = Int32(best)
            if let gradient {
                let g = gradient + row * classes
                let inverse = scale / sum
                for c in 0..<classes { g[c] = expf(z[c] - maximum) * inverse }
                g[label] -= scale
            }
        }
        return outcome
    }
}
