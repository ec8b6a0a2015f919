import Testing

@testable import Aggregation

struct StalenessFunctionTests {
    /// (spec, τ, s(τ) worked out by hand).
    @Test(arguments: [
        ("const", 0, 1.0),
        ("const", 50, 1.0),
        ("poly:0.5", 0, 1.0),
        ("poly:0.5", 3, 0.5),  // 4^-0.5
        ("poly:2", 1, 0.25),  // 2^-2
        ("hinge:10,4", 4, 1.0),  // τ ≤ b
        ("hinge:10,4", 6, 1.0 / 21),  // 1 / (10·2 + 1)
        ("hinge:0.5,2", 4, 0.5),  // 1 / (0.5·2 + 1)
        ("exp:0.5", 2, 0.36787944117144233),  // e^-1
        ("exp:0", 10, 1.0),
    ])
    func weight(spec: String, staleness: Int, expected: Double) throws {
        let function = try StalenessFunction(parsing: spec)
        #expect(abs(Double(function.weight(staleness: staleness)) - expected) < 1e-6)
    }

    @Test(arguments: ["const", "poly:0.5", "hinge:10,4", "exp:0.25"])
    func specRoundTrips(spec: String) throws {
        let function = try StalenessFunction(parsing: spec)
        #expect(function.description == spec)
        #expect(try StalenessFunction(parsing: function.description) == function)
    }

    @Test(arguments: [
        ("", SpecError.empty),
        ("poly", .wrongParameterCount(spec: "poly", expected: "'poly:A' with A ≥ 0")),
        ("poly:x", .notANumber(spec: "poly:x", field: "x")),
        ("poly:inf", .notANumber(spec: "poly:inf", field: "inf")),
        ("poly:-1", .outOfRange(spec: "poly:-1", expected: "'poly:A' with A ≥ 0")),
        ("hinge:1", .wrongParameterCount(spec: "hinge:1", expected: "'hinge:A,B' with A, B ≥ 0")),
        ("exp:1,2", .wrongParameterCount(spec: "exp:1,2", expected: "'exp:A' with A ≥ 0")),
        ("const:1", .wrongParameterCount(spec: "const:1", expected: "'const' without parameters")),
        ("linear:1", .unknownName(spec: "linear:1", known: ["const", "poly:A", "hinge:A,B", "exp:A"])),
    ])
    func parseErrors(spec: String, expected: SpecError) {
        #expect(throws: expected) { try StalenessFunction(parsing: spec) }
    }

    @Test func stalenessIsVersionDifferenceClampedAtZero() {
        #expect(staleness(current: 10, base: 7) == 3)
        #expect(staleness(current: 7, base: 7) == 0)
        #expect(staleness(current: 7, base: 9) == 0)
    }
}

struct StalenessPolicyTests {
    @Test func dropsUpdatesBeyondMaxStaleness() {
        let policy = StalenessPolicy(function: .polynomial(a: 0.5), maxStaleness: 3)
        #expect(policy.verdict(base: 7, current: 10) == .accept(staleness: 3, weight: 0.5, mass: 1))
        #expect(policy.verdict(base: 6, current: 10) == .dropStale(staleness: 4))
    }

    @Test func keepsEveryUpdateWithoutABound() {
        let policy = StalenessPolicy(function: .constant)
        #expect(policy.verdict(base: 0, current: 1_000) == .accept(staleness: 1_000, weight: 1, mass: 1))
    }

    @Test func sampleWeightingScalesWeightAndMass() {
        let policy = StalenessPolicy(function: .polynomial(a: 1), weighsBySamples: true)
        // s(1) = 1/2, 40 samples: weight 20, mass 40.
        #expect(policy.verdict(base: 4, current: 5, samples: 40) == .accept(staleness: 1, weight: 20, mass: 40))
    }
}
