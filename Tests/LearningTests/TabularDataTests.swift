import Foundation
import Learning
import Testing

/// CSV tables read by label name, their seeded split, and standardisation from
/// statistics that merge (what clients would share instead of rows).
struct TabularDataTests {
    static let wdbc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/wdbc/wdbc.csv").path

    @Test func wdbcLoadsWithNamedClasses() throws {
        let table = try CSVTable.load(path: Self.wdbc, label: "diagnosis")
        #expect(table.dataset.count == 569 && table.dataset.featureCount == 30)
        #expect(table.classNames == ["benign", "malignant"])
        #expect(table.dataset.labelCounts() == [357, 212])
        #expect(table.featureNames.first == "radius_mean" && !table.featureNames.contains("diagnosis"))
        #expect(table.dataset.features[0] == 17.99)  // first row, radius_mean
    }

    @Test func badTablesAreRefusedWithTheirPlace() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("t.csv").path
        try "a,b,label\n1,2,x\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.csvNoSuchColumn(path: path, column: "diagnosis", header: ["a", "b", "label"])) {
            try CSVTable.load(path: path, label: "diagnosis")
        }
        try "a,b,label\n1,2,x\n3,oops,y\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.csvBadValue(path: path, line: 3, column: 2, text: "oops")) {
            try CSVTable.load(path: path, label: "label")
        }
        try "a,b,label\n1,2,x\n3,y\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.csvColumnCount(path: path, line: 3, expected: 3, found: 2)) {
            try CSVTable.load(path: path, label: "label")
        }
    }

    @Test func splitIsSeededStratifiedAndDisjoint() throws {
        let data = try CSVTable.load(path: Self.wdbc, label: "diagnosis").dataset
        let (train, test) = data.split(testFraction: 0.2, seed: 3)
        #expect(test.labelCounts() == [71, 42] && train.labelCounts() == [286, 170])
        let again = data.split(testFraction: 0.2, seed: 3)
        #expect(again.test.features == test.features)
        #expect(data.split(testFraction: 0.2, seed: 4).test.features != test.features)
        // Disjoint: every row of the table is in exactly one side.
        func rows(_ d: Dataset) -> [[Float]] { (0..<d.count).map { Array(d.features[($0 * 30)..<(($0 + 1) * 30)]) } }
        #expect(Set(rows(train).map(\.description)).isDisjoint(with: rows(test).map(\.description)))
    }

    @Test func statisticsMergeAndStandardise() throws {
        let data = try CSVTable.load(path: Self.wdbc, label: "diagnosis").dataset
        var merged = FeatureStatistics(of: data, indices: Array(0..<200))
        merged.merge(FeatureStatistics(of: data, indices: Array(200..<569)))
        let whole = FeatureStatistics(of: data)
        #expect(merged.count == 569)
        #expect(zip(merged.sums, whole.sums).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) })
        let standardized = whole.standardization.apply(to: data)
        let after = FeatureStatistics(of: standardized).standardization
        #expect(after.means.allSatisfy { abs($0) < 1e-4 })
        #expect(after.deviations.allSatisfy { abs($0 - 1) < 1e-3 })
        // A constant feature standardises to 0, not NaN.
        let constant = try Dataset(features: [5, 1, 5, 2, 5, 3], labels: [0, 1, 0], featureCount: 2, classCount: 2)
        let zeroed = FeatureStatistics(of: constant).standardization.apply(to: constant)
        #expect(zeroed.features.allSatisfy(\.isFinite) && zeroed.features[0] == 0)
    }
}
