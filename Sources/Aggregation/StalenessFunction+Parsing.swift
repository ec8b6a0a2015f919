extension StalenessFunction {
    /// Parses `const`, `poly:A`, `hinge:A,B` or `exp:A` (A ≥ 0, B ≥ 0).
    /// - Throws: `SpecError` naming the spec and what was expected.
    public init(parsing text: String) throws(SpecError) {
        let spec = try Spec(text)
        let nonNegative: (Int, Double) -> Bool = { _, value in value >= 0 }
        switch spec.name {
        case "const", "constant":
            _ = try spec.parameters(0, usage: "'const' without parameters")
            self = .constant
        case "poly":
            let p = try spec.parameters(1, usage: "'poly:A' with A ≥ 0", where: nonNegative)
            self = .polynomial(a: p[0])
        case "hinge":
            let p = try spec.parameters(2, usage: "'hinge:A,B' with A, B ≥ 0", where: nonNegative)
            self = .hinge(a: p[0], b: p[1])
        case "exp":
            let p = try spec.parameters(1, usage: "'exp:A' with A ≥ 0", where: nonNegative)
            self = .exponential(a: p[0])
        default:
            throw .unknownName(spec: text, known: ["const", "poly:A", "hinge:A,B", "exp:A"])
        }
    }
}
