import Messaging
import Testing

@testable import Roles

/// `ReconnectPolicy` without a broker: what a role waits after each failure.
@Suite struct ReconnectPolicyTests {
    @Test func failedConnectsBackOffAndARefusedLoginGivesUp() {
        let start = ContinuousClock.now
        var policy = ReconnectPolicy(patience: .seconds(30), now: start)
        let lost = TransportError.connectionFailed("refused")
        #expect(policy.connectFailed(lost, at: start) == .retry(after: .milliseconds(250)))
        #expect(policy.connectFailed(lost, at: start) == .retry(after: .milliseconds(500)))
        #expect(policy.connectFailed(lost, at: start) == .retry(after: .seconds(1)))
        #expect(policy.connectFailed(lost, at: start + .seconds(31)) == .giveUp)
        var fresh = ReconnectPolicy(patience: .seconds(30), now: start)
        #expect(fresh.connectFailed(.accessRefused("login"), at: start) == .giveUp)
    }

    /// A role whose queue is missing (and which may not declare it) fails each session at
    /// once: it must back off up to the cap, not spin; a session that ran a while restarts at once.
    @Test func sessionsThatFailAtOnceBackOffAndLongOnesRestartAtOnce() {
        let start = ContinuousClock.now
        var policy = ReconnectPolicy(patience: .seconds(30), now: start)
        var waits: [Duration] = []
        for _ in 0..<7 { waits.append(policy.sessionFailed(started: start, at: start + .milliseconds(5))) }
        #expect(waits == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
        #expect(policy.sessionFailed(started: start, at: start + .seconds(60)) == .zero)
        // Patience counts from the last session: connecting may fail for 30 s from there.
        #expect(policy.connectFailed(.connectionFailed("x"), at: start + .seconds(85)) != .giveUp)
        #expect(policy.sessionFailed(started: start + .seconds(86), at: start + .seconds(86)) == .milliseconds(500))
    }

    @Test func recoverableErrorsAreTheOnesANewSessionCures() {
        #expect(TransportError.consumerCancelled(queue: "q").isRecoverable)
        #expect(TransportError.notFound("queue 'q'").isRecoverable)
        #expect(TransportError.unroutable(exchange: "fedq.updates", routingKey: "k").isRecoverable)
        // A quorum queue nacks publishes while its leader moves (a node killed mid-run).
        #expect(TransportError.publishRejected(queue: "fedq.q.updates").isRecoverable)
        #expect(TransportError.connectionLost("x").isRecoverable)
        #expect(!TransportError.accessRefused("403").isRecoverable)
        #expect(!TransportError.preconditionFailed("406").isRecoverable)
    }
}
