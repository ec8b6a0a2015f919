/// The global model's version: the number of times the coordinator has applied an
/// aggregate. Versions only grow, so staleness is a plain difference of two of them.
public typealias ModelVersion = UInt64

/// How many global versions an update's base model is behind the current one.
///
/// An update can name a base version newer than the one a worker last heard of (the
/// model fanout and the updates queue race each other); such an update is as fresh as
/// it can be, so staleness is clamped at zero rather than trapping on underflow.
@inlinable
public func staleness(current: ModelVersion, base: ModelVersion) -> Int {
    current > base ? Int(clamping: current - base) : 0
}
