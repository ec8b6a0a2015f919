import Testing

@testable import Aggregation

struct PartialAggregateTests {
    struct Update {
        let id: UpdateID
        let base: ModelVersion
        let weight: Float
        let mass: Float
        let delta: [Float]
    }

    static func randomUpdates(count: Int, dimension: Int, using generator: inout SeededGenerator) -> [Update] {
        (0..<count).map { _ in
            Update(
                id: .random(using: &generator), base: .random(in: 0...20, using: &generator),
                weight: .random(in: 0.05...2, using: &generator), mass: .random(in: 1...50, using: &generator),
                delta: (0..<dimension).map { _ in .random(in: -1...1, using: &generator) })
        }
    }

    /// Property: however the updates are split over W workers, and in whatever order each
    /// worker adds them and the coordinator merges the partials, the result equals one
    /// worker's aggregate over all of them.
    @Test(arguments: 0..<25)
    func mergedWorkerPartialsEqualOneWorker(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let dimension = 257
        let updates = Self.randomUpdates(count: .random(in: 1...60, using: &generator), dimension: dimension, using: &generator)

        var single = PartialAggregate(dimension: dimension)
        for update in updates {
            try single.add(id: update.id, baseVersion: update.base, weight: update.weight, mass: update.mass, delta: update.delta)
        }

        let workers = Int.random(in: 1...6, using: &generator)
        var partials = [PartialAggregate](repeating: PartialAggregate(dimension: dimension), count: workers)
        for update in updates.shuffled(using: &generator) {
            let worker = Int.random(in: 0..<workers, using: &generator)
            // Half the workers use the decode-and-accumulate path.
            if worker.isMultiple(of: 2) {
                partials[worker].add(id: update.id, baseVersion: update.base, weight: update.weight, mass: update.mass) {
                    sum, weight in
                    for index in 0..<sum.count { sum[index] += weight * update.delta[index] }
                }
            } else {
                try partials[worker].add(
                    id: update.id, baseVersion: update.base, weight: update.weight, mass: update.mass, delta: update.delta)
            }
        }
        // Merge in a random tree: repeatedly merge two random partials.
        partials.shuffle(using: &generator)
        while partials.count > 1 {
            let right = partials.remove(at: .random(in: 0..<partials.count, using: &generator))
            let leftIndex = Int.random(in: 0..<partials.count, using: &generator)
            partials[leftIndex] = try right.merging(partials[leftIndex])
        }
        let merged = partials[0]

        #expect(merged.count == single.count)
        #expect(Set(merged.updateIDs) == Set(single.updateIDs))
        #expect(Set(merged.entries) == Set(single.entries))
        #expect(abs(merged.weightTotal - single.weightTotal) <= 1e-9 * max(1, single.weightTotal))
        #expect(abs(merged.massTotal - single.massTotal) <= 1e-9 * max(1, single.massTotal))
        let worst = zip(merged.weightedSum, single.weightedSum).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-4)
    }

    @Test func addAccumulatesWeightedDelta() throws {
        let id = UpdateID(high: 1, low: 2)
        var partial = PartialAggregate(dimension: 3)
        try partial.add(id: id, baseVersion: 4, weight: 0.5, mass: 2, delta: [2, 4, -6])
        #expect(partial.weightedSum == [1, 2, -3])
        #expect(partial.weightTotal == 0.5)
        #expect(partial.massTotal == 2)
        #expect(partial.entries == [PartialAggregate.Entry(id: id, baseVersion: 4)])
        #expect(partial.meanDelta == [0.5, 1, -1.5])
    }

    @Test func mergeRefusesAnUpdateCountedTwice() throws {
        let id = UpdateID(high: 0, low: 9)
        var first = PartialAggregate(dimension: 1)
        try first.add(id: id, baseVersion: 1, weight: 1, delta: [1])
        let copy = first
        #expect(throws: PartialAggregateError.duplicateUpdate(id)) { try first.merge(copy) }
        #expect(first == copy)
    }

    @Test func rejectsMismatchedDimensions() throws {
        var partial = PartialAggregate(dimension: 2)
        #expect(throws: PartialAggregateError.dimensionMismatch(expected: 2, got: 3)) {
            try partial.add(id: .random(), baseVersion: 0, weight: 1, delta: [1, 2, 3])
        }
        #expect(throws: PartialAggregateError.dimensionMismatch(expected: 2, got: 1)) {
            try partial.merge(PartialAggregate(dimension: 1))
        }
        #expect(partial.isEmpty)
    }

    @Test func accumulateErrorsPropagateWithoutRecordingTheUpdate() {
        struct DecodeFailure: Error {}
        var partial = PartialAggregate(dimension: 2)
        #expect(throws: DecodeFailure.self) {
            try partial.add(id: .random(), baseVersion: 0, weight: 1) { _, _ in throw DecodeFailure() }
        }
        #expect(partial.isEmpty)
        #expect(partial.weightTotal == 0)
    }

    @Test func rebuildingFromPartsValidates() throws {
        let id = UpdateID(high: 3, low: 3)
        let entry = PartialAggregate.Entry(id: id, baseVersion: 0)
        #expect(throws: PartialAggregateError.duplicateUpdate(id)) {
            try PartialAggregate(weightedSum: [0], weightTotal: 2, massTotal: 2, entries: [entry, entry])
        }
        #expect(throws: PartialAggregateError.invalidTotals(weight: -1, mass: 1)) {
            try PartialAggregate(weightedSum: [0], weightTotal: -1, massTotal: 1, entries: [entry])
        }
        let rebuilt = try PartialAggregate(weightedSum: [4], weightTotal: 2, massTotal: 2, entries: [entry])
        #expect(rebuilt.meanDelta == [2])
    }
}

struct UpdateIDTests {
    @Test func bytesRoundTripBigEndian() throws {
        let id = UpdateID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)
        #expect(id.bytes == Array(1...16))
        #expect(try UpdateID(bytes: id.bytes) == id)
        #expect(id.description == "0102030405060708090a0b0c0d0e0f10")
    }

    @Test func refusesWrongLength() {
        #expect(throws: UpdateIDError.wrongByteCount(15)) { try UpdateID(bytes: [UInt8](repeating: 0, count: 15)) }
    }
}
