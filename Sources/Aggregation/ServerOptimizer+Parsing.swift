extension ServerOptimizer.Rule {
    /// Parses `sgd:LR`, `momentum:LR,BETA` or `adam:LR,BETA1,BETA2,EPS`
    /// (LR > 0, betas in [0, 1), EPS > 0).
    /// - Throws: `SpecError` naming the spec and what was expected.
    public init(parsing text: String) throws(SpecError) {
        let spec = try Spec(text)
        let positive: (Double) -> Bool = { $0 > 0 }
        let beta: (Double) -> Bool = { $0 >= 0 && $0 < 1 }
        switch spec.name {
        case "sgd":
            let p = try spec.parameters(1, usage: "'sgd:LR' with LR > 0") { _, v in positive(v) }
            self = .sgd(learningRate: Float(p[0]))
        case "momentum":
            let p = try spec.parameters(2, usage: "'momentum:LR,BETA' with LR > 0, 0 ≤ BETA < 1") {
                index, v in index == 0 ? positive(v) : beta(v)
            }
            self = .momentum(learningRate: Float(p[0]), beta: Float(p[1]))
        case "adam":
            let p = try spec.parameters(
                4, usage: "'adam:LR,BETA1,BETA2,EPS' with LR, EPS > 0 and 0 ≤ BETA < 1"
            ) { index, v in index == 0 || index == 3 ? positive(v) : beta(v) }
            self = .adam(
                learningRate: Float(p[0]), beta1: Float(p[1]), beta2: Float(p[2]), epsilon: Float(p[3]))
        default:
            throw .unknownName(spec: text, known: ["sgd:LR", "momentum:LR,BETA", "adam:LR,B1,B2,EPS"])
        }
    }
}
