/// A growable, never-shrinking, uninitialised buffer of `Element`s with one
/// owner. Training reuses these across steps and runs, so a step allocates
/// nothing once the largest batch has been seen.
final class ScratchBuffer<Element> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int

    init(capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
    }

    /// Grows to hold at least `count` elements; contents are not preserved.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        pointer.deallocate()
        pointer = .allocate(capacity: count)
        capacity = count
    }

    deinit { pointer.deallocate() }
}
