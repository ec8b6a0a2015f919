/// A worker's running aggregate of client updates: Σ wᵢ·Δᵢ, Σ wᵢ, Σ mᵢ and the ids
/// inside. Addition is commutative and merging is associative, so W workers' partials
/// merged by the coordinator equal one worker's partial over the same updates (to float
/// rounding), whatever the split and order. That is what lets aggregation scale out.
///
/// Two totals are kept because the strategies normalise differently: the *weight* wᵢ
/// multiplies the delta (staleness weight × optional sample count), while the *mass* mᵢ
/// is what a mean divides by (1 per update, or its sample count). FedBuff's mean
/// Σ s(τᵢ)·Δᵢ / K is then `weightedSum / massTotal` with mᵢ = 1, and its sample-weighted
/// form Σ nᵢ·s(τᵢ)·Δᵢ / Σ nᵢ is the same expression with mᵢ = nᵢ.
public struct PartialAggregate: Sendable, Equatable, Codable {
    /// One update inside the aggregate, kept for accounting and duplicate detection.
    public struct Entry: Sendable, Hashable, Codable {
        public let id: UpdateID
        /// The global version the client trained from.
        public let baseVersion: ModelVersion
        /// The checksum of the update's message (0: unknown), which tells a second copy
        /// of it from another message under its id.
        public var checksum: UInt32 = 0
        /// The client the update's envelope names (nil: not known, as in a partial of an
        /// older worker or a checkpoint written before entries named clients), by which the
        /// coordinator holds each client to its share of an aggregate (`FleetClientLimit`).
        public var clientID: UInt64?

        public init(id: UpdateID, baseVersion: ModelVersion, checksum: UInt32 = 0, clientID: UInt64? = nil) {
            self.id = id
            self.baseVersion = baseVersion
            self.checksum = checksum
            self.clientID = clientID
        }
    }

    /// Σ wᵢ·Δᵢ over the updates inside, one value per model parameter.
    public private(set) var weightedSum: [Float]
    /// Σ wᵢ.
    public private(set) var weightTotal: Double
    /// Σ mᵢ.
    public private(set) var massTotal: Double
    /// The updates inside, in the order they were added or merged.
    public private(set) var entries: [Entry]

    /// An empty aggregate for a model of `dimension` parameters.
    public init(dimension: Int) {
        weightedSum = [Float](repeating: 0, count: dimension)
        weightTotal = 0
        massTotal = 0
        entries = []
    }

    /// Rebuilds an aggregate from its parts (a decoded wire message or a checkpoint).
    /// - Throws: `PartialAggregateError.duplicateUpdate` if an id appears twice, or
    ///   `.invalidTotals` for negative or non-finite totals.
    public init(
        weightedSum: [Float], weightTotal: Double, massTotal: Double, entries: [Entry]
    ) throws(PartialAggregateError) {
        guard weightTotal.isFinite, weightTotal >= 0, massTotal.isFinite, massTotal >= 0 else {
            throw .invalidTotals(weight: weightTotal, mass: massTotal)
        }
        var seen = Set<UpdateID>()
        for entry in entries where !seen.insert(entry.id).inserted {
            throw .duplicateUpdate(entry.id)
        }
        self.weightedSum = weightedSum
        self.weightTotal = weightTotal
        self.massTotal = massTotal
        self.entries = entries
    }

    /// The number of model parameters.
    public var dimension: Int { weightedSum.count }
    /// How many updates are inside.
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The ids inside, for acking, deduplication and accounting.
    public var updateIDs: [UpdateID] { entries.map(\.id) }

    /// Σ wᵢ·Δᵢ / Σ mᵢ: the (staleness-)weighted mean delta FedBuff and FedAvg apply.
    /// Zero for an empty aggregate.
    public var meanDelta: [Float] {
        guard massTotal > 0 else { return [Float](repeating: 0, count: dimension) }
        return weightedSum.scaled(by: Float(1 / massTotal))
    }

    /// Adds one update by letting `accumulate` write `weight × Δ` into the sum itself,
    /// so the wire layer decodes and accumulates in one pass without a temporary delta.
    ///
    /// `accumulate` receives the sum buffer (`dimension` floats) and `weight`; it must
    /// add weight·Δᵢ to element i. It must validate its input before writing: if it
    /// throws, the update is not recorded, but anything it already wrote stays in the sum.
    /// - Throws: whatever `accumulate` throws.
    public mutating func add(
        id: UpdateID, baseVersion: ModelVersion, checksum: UInt32 = 0, clientID: UInt64? = nil, weight: Float, mass: Float = 1,
        accumulate: (inout UnsafeMutableBufferPointer<Float>, Float) throws -> Void
    ) rethrows {
        try weightedSum.withUnsafeMutableBufferPointer { sum in
            try accumulate(&sum, weight)
        }
        record(Entry(id: id, baseVersion: baseVersion, checksum: checksum, clientID: clientID), weight: weight, mass: mass)
    }

    /// Adds one decoded update `delta` with the given weight and mass.
    /// - Throws: `PartialAggregateError.dimensionMismatch` if `delta` has the wrong length.
    public mutating func add(
        id: UpdateID, baseVersion: ModelVersion, clientID: UInt64? = nil, weight: Float, mass: Float = 1, delta: [Float]
    ) throws(PartialAggregateError) {
        guard delta.count == dimension else {
            throw .dimensionMismatch(expected: dimension, got: delta.count)
        }
        weightedSum.addScaled(delta, by: weight)
        record(Entry(id: id, baseVersion: baseVersion, clientID: clientID), weight: weight, mass: mass)
    }

    /// Lets `body` change the sum in place (differential privacy's noise); the totals and
    /// the entries stay as they are.
    public mutating func perturbSum(_ body: (inout [Float]) -> Void) {
        body(&weightedSum)
    }

    /// Merges another worker's aggregate into this one.
    /// - Throws: `.dimensionMismatch` for another model's aggregate, or
    ///   `.duplicateUpdate` if an update is in both (merging would count it twice);
    ///   on a throw `self` is unchanged.
    public mutating func merge(_ other: PartialAggregate) throws(PartialAggregateError) {
        guard other.dimension == dimension else {
            throw .dimensionMismatch(expected: dimension, got: other.dimension)
        }
        let mine = Set(entries.map(\.id))
        if let duplicate = other.entries.first(where: { mine.contains($0.id) }) {
            throw .duplicateUpdate(duplicate.id)
        }
        weightedSum.addScaled(other.weightedSum, by: 1)
        weightTotal += other.weightTotal
        massTotal += other.massTotal
        entries += other.entries
    }

    /// `merge` as an expression, for folds over many workers' partials.
    public func merging(_ other: PartialAggregate) throws(PartialAggregateError) -> PartialAggregate {
        var merged = self
        try merged.merge(other)
        return merged
    }

    private mutating func record(_ entry: Entry, weight: Float, mass: Float) {
        entries.append(entry)
        weightTotal += Double(weight)
        massTotal += Double(mass)
    }
}

/// Why an update or a partial could not be folded into an aggregate.
public enum PartialAggregateError: Error, Equatable, CustomStringConvertible {
    case dimensionMismatch(expected: Int, got: Int)
    case duplicateUpdate(UpdateID)
    case invalidTotals(weight: Double, mass: Double)

    public var description: String {
        switch self {
        case .dimensionMismatch(let expected, let got):
            "aggregate of \(expected) parameters cannot take \(got)"
        case .duplicateUpdate(let id): "update \(id) is already in the aggregate"
        case .invalidTotals(let weight, let mass):
            "aggregate totals must be finite and non-negative (weight \(weight), mass \(mass))"
        }
    }
}
