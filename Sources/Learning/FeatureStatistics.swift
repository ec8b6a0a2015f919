/// Per-feature count, sum and sum of squares of some samples: what a client
/// can share about its rows without sharing a row. Statistics of disjoint
/// sets of samples merge by adding, so the standardisation of all clients'
/// data is computed from theirs, never from the data itself, and never from
/// the test set.
public struct FeatureStatistics: Sendable, Equatable {
    public private(set) var count: Int
    public private(set) var sums: [Double]
    public private(set) var sumsOfSquares: [Double]

    public init(featureCount: Int) {
        count = 0
        sums = Array(repeating: 0, count: featureCount)
        sumsOfSquares = Array(repeating: 0, count: featureCount)
    }

    /// Statistics received from elsewhere (a client's statistics message), already validated
    /// by the wire decoder: same lengths, finite, count > 0.
    public init(count: Int, sums: [Double], sumsOfSquares: [Double]) {
        precondition(sums.count == sumsOfSquares.count, "sums and sums of squares of different widths")
        self.count = count
        self.sums = sums
        self.sumsOfSquares = sumsOfSquares
    }

    public var featureCount: Int { sums.count }

    /// The statistics of `dataset`'s samples at `indices` (all when nil).
    public init(of dataset: Dataset, indices: [Int]? = nil) {
        self.init(featureCount: dataset.featureCount)
        let width = dataset.featureCount
        dataset.features.withUnsafeBufferPointer { features in
            for sample in indices ?? Array(0..<dataset.count) {
                for j in 0..<width {
                    let x = Double(features[sample * width + j])
                    sums[j] += x
                    sumsOfSquares[j] += x * x
                }
            }
        }
        count = indices?.count ?? dataset.count
    }

    /// Adds another disjoint set's statistics.
    public mutating func merge(_ other: FeatureStatistics) {
        precondition(other.sums.count == sums.count, "statistics of another width")
        count += other.count
        for j in sums.indices {
            sums[j] += other.sums[j]
            sumsOfSquares[j] += other.sumsOfSquares[j]
        }
    }

    /// Mean and (population) standard deviation per feature; a constant
    /// feature gets deviation 1, so it standardises to 0 rather than NaN.
    public var standardization: Standardization {
        let n = Double(max(count, 1))
        let means = sums.map { $0 / n }
        let deviations = zip(sumsOfSquares, means).map { squares, mean in
            let variance = max(squares / n - mean * mean, 0)
            return variance > 1e-12 ? variance.squareRoot() : 1
        }
        return Standardization(means: means.map { Float($0) }, deviations: deviations.map { Float($0) })
    }
}

extension Standardization {
    /// A copy of `dataset` with every feature standardised.
    public func apply(to dataset: Dataset) -> Dataset {
        var features = dataset.features
        let width = dataset.featureCount
        precondition(width == means.count, "standardisation of another width")
        for i in features.indices {
            let j = i % width
            features[i] = (features[i] - means[j]) / deviations[j]
        }
        return try! Dataset(features: features, labels: dataset.labels, featureCount: width, classCount: dataset.classCount)
    }
}

extension Dataset {
    /// A seeded split into training and held-out test samples, `testFraction`
    /// of each class held out (rounded), so both keep the class proportions.
    public func split(testFraction: Double, seed: UInt64) -> (train: Dataset, test: Dataset) {
        var generator = SeededGenerator(seed: seed)
        var train: [Int] = []
        var test: [Int] = []
        for label in 0..<classCount {
            var members = labels.indices.filter { labels[$0] == label }
            members.shuffle(using: &generator)
            let held = Int((Double(members.count) * testFraction).rounded())
            test += members.prefix(held)
            train += members.dropFirst(held)
        }
        return (subset(train.sorted()), subset(test.sorted()))
    }
}
