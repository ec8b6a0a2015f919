import Foundation
import Learning
import Testing

/// `--feature-ranges`: public bounds per feature become the standardisation, in the table's
/// feature order whatever the file's, and every way a file can be wrong is refused with the
/// line or the names at fault.
struct FeatureRangesTests {
    @Test func boundsBecomeMidpointsAndHalfWidthsInFeatureOrder() throws {
        let text = """
            feature, min, max
            # from the instrument's manual
            area,0,2600

            radius , 5, 29
            """
        let standardization = try FeatureRanges(parsing: text).standardization(for: ["radius", "area"])
        #expect(standardization.means == [17, 1300])
        #expect(standardization.deviations == [12, 1300])
        // A value at a bound lands on ±1.
        #expect((29 - standardization.means[0]) / standardization.deviations[0] == 1)
        #expect((0 - standardization.means[1]) / standardization.deviations[1] == -1)
    }

    @Test(arguments: [
        ("radius,min,max\nradius,0,1", FeatureRangesError.badLine(line: 1, reason: "the header must be `feature,min,max`")),
        ("", .badLine(line: 1, reason: "the header must be `feature,min,max`")),
        ("feature,min,max\nradius,0", .badLine(line: 2, reason: "expected `feature,min,max`, got 2 fields")),
        ("feature,min,max\n,0,1", .badLine(line: 2, reason: "expected `feature,min,max`, got 3 fields")),
        ("feature,min,max\nradius,0,1\narea,zero,1", .badLine(line: 3, reason: "`zero` and `1` must be finite numbers within Float's range")),
        ("feature,min,max\nradius,0,inf", .badLine(line: 2, reason: "`0` and `inf` must be finite numbers within Float's range")),
        ("feature,min,max\nradius,0,1e39", .badLine(line: 2, reason: "`0` and `1e39` must be finite numbers within Float's range")),
        ("feature,min,max\nradius,5,5", .badLine(line: 2, reason: "min 5 must be below max 5")),
        ("feature,min,max\nradius,1,1.00000001", .badLine(line: 2, reason: "min 1 must be below max 1.00000001")),
        ("feature,min,max\nradius,0,1\nradius,0,2", .badLine(line: 3, reason: "`radius` is given twice")),
    ])
    func aBadFileIsRefusedAtItsLine(text: String, expected: FeatureRangesError) {
        #expect(throws: expected) { try FeatureRanges(parsing: text) }
    }

    @Test func everyFeatureNeedsARangeAndEveryRangeAFeature() throws {
        let ranges = try FeatureRanges(parsing: "feature,min,max\nradius,0,1\ndiagnosis,0,1\n")
        #expect(throws: FeatureRangesError.missing(["area"])) { try ranges.standardization(for: ["radius", "area"]) }
        #expect(throws: FeatureRangesError.unknown(["diagnosis"])) { try ranges.standardization(for: ["radius"]) }
        #expect(FeatureRangesError.missing(["a", "b", "c", "d", "e", "f", "g"]).description
            == "no range for `a`, `b`, `c`, `d`, `e` and 2 more")
        #expect(FeatureRangesError.unknown(["diagnosis"]).description == "`diagnosis` is not a feature of the table")
        #expect(FeatureRangesError.badLine(line: 3, reason: "x").description == "line 3: x")
    }

    /// The shipped file for WDBC covers every feature of both tables' variants.
    @Test func theShippedWDBCRangesCoverTheTable() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let table = try CSVTable.load(path: root + "/data/wdbc/wdbc.csv", label: "diagnosis")
        let text = try String(contentsOfFile: root + "/data/wdbc/wdbc-ranges.csv", encoding: .utf8)
        let standardization = try FeatureRanges(parsing: text).standardization(for: table.featureNames)
        // Every row of the table inside [-1, 1] after scaling.
        let scaled = standardization.apply(to: table.dataset).features
        #expect(scaled.allSatisfy { $0 >= -1 && $0 <= 1 })
        let hospitals = try CSVTable.load(path: root + "/data/wdbc/wdbc-hospitals.csv", label: "diagnosis")
        let both = try String(contentsOfFile: root + "/data/wdbc/wdbc-hospitals-ranges.csv", encoding: .utf8)
        #expect(try FeatureRanges(parsing: both).standardization(for: hospitals.featureNames).featureCount == 31)
    }
}
