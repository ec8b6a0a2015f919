import Synchronization

/// One publish's result, settled once: by the broker's confirm or a failure, or by the
/// caller's cancellation while the message is still unwritten (whichever comes first).
final class PublishOutcome: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Void, Error>?
        var result: Result<Void, Error>?
        var written = false
    }

    private let state = Mutex(State())

    func await(_ continuation: CheckedContinuation<Void, Error>) {
        let early: Result<Void, Error>? = state.withLock { state in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    /// On the connection thread, just before writing: false if cancelled first.
    func claimForWriting() -> Bool {
        state.withLock { state in
            guard state.result == nil else { return false }
            state.written = true
            return true
        }
    }

    func cancelIfUnwritten() {
        let continuation: CheckedContinuation<Void, Error>?? = state.withLock { state in
            guard state.result == nil, !state.written else { return nil }
            state.result = .failure(CancellationError())
            defer { state.continuation = nil }
            return .some(state.continuation)
        }
        if let continuation { continuation?.resume(throwing: CancellationError()) }
    }

    func settle(_ result: Result<Void, Error>) {
        let continuation: CheckedContinuation<Void, Error>? = state.withLock { state in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }
}
