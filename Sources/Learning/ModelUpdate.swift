/// A client's contribution: `trained - base` as one flat vector, tagged with
/// the hash of the architecture it was computed for.
public struct ModelUpdate: Sendable, Equatable {
    public var specHash: UInt64
    public var delta: [Float]

    public init(specHash: UInt64, delta: [Float]) {
        self.specHash = specHash
        self.delta = delta
    }
}

extension Network {
    /// The update from `base` (the global model this run started from) to
    /// the current parameters.
    /// - Throws: `ModelError.parameterCountMismatch` when `base` has another size.
    public func update(from base: [Float]) throws(ModelError) -> ModelUpdate {
        guard base.count == spec.parameterCount else {
            throw .parameterCountMismatch(expected: spec.parameterCount, received: base.count)
        }
        var delta = base
        delta.withUnsafeMutableBufferPointer { d in
            for i in 0..<d.count { d[i] = parameterStorage[i] - d[i] }
        }
        return ModelUpdate(specHash: spec.hash, delta: delta)
    }

    /// Adds `scale * update.delta` to the parameters.
    /// - Throws: `ModelError.specMismatch` when the update was made for
    ///   another architecture, `parameterCountMismatch` when its size is wrong.
    public func apply(_ update: ModelUpdate, scale: Float = 1) throws(ModelError) {
        try spec.check(update)
        update.delta.withUnsafeBufferPointer { d in
            for i in 0..<d.count { parameterStorage[i] += scale * d[i] }
        }
    }
}

extension ModelSpec {
    /// - Throws: `ModelError.specMismatch` or `.parameterCountMismatch` when
    ///   `update` does not belong to this architecture.
    public func check(_ update: ModelUpdate) throws(ModelError) {
        guard update.specHash == hash else { throw .specMismatch(expected: hash, expectedName: name, received: update.specHash) }
        guard update.delta.count == parameterCount else {
            throw .parameterCountMismatch(expected: parameterCount, received: update.delta.count)
        }
    }
}
