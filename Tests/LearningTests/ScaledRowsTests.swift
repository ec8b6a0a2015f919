import FedCore
import Testing
@testable import Learning

/// Rows are scaled once per standardisation, with the model's numbers.
@Suite struct ScaledRowsTests {
    @Test func rowsAreScaledOnceWhileTheStandardisationStaysTheSame() throws {
        let raw = try Dataset(features: [1, 10, 3, 30], labels: [0, 1], featureCount: 2, classCount: 2)
        let first = Standardization(means: [2, 20], deviations: [1, 10])
        var cache = ScaledRows()
        var calls = 0
        let scaled = cache.rows(for: first) { calls += 1; return raw }
        #expect(scaled.features == [-1, -1, 1, 1])
        #expect(scaled.labels == [0, 1])
        #expect(cache.rows(for: first) { calls += 1; return raw }.features == [-1, -1, 1, 1])
        #expect(calls == 1)
        let second = Standardization(means: [0, 0], deviations: [2, 10])
        #expect(cache.rows(for: second) { calls += 1; return raw }.features == [0.5, 1, 1.5, 3])
        #expect(calls == 2)
    }
}
