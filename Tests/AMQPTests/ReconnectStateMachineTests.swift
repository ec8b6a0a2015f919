import Testing

@testable import AMQP

@Suite("Reconnect decisions without a broker")
struct ReconnectStateMachineTests {
    let lost = AMQPError(.connectionForced, "broker forced connection closure", operation: "connection")
    let refused = AMQPError(.socketError, "a socket error occurred", operation: "connect")

    @Test func backoffGrowsExponentiallyAndIsCapped() {
        let backoff = ReconnectBackoff(initial: .milliseconds(100), multiplier: 2, maximum: .seconds(1), maxAttempts: nil)
        let delays = (1...6).map { backoff.delay(attempt: $0) }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
    }

    @Test func connectsRestoresAndCountsReconnects() {
        var machine = ReconnectStateMachine(backoff: ReconnectBackoff(initial: .milliseconds(100), maxAttempts: 5))
        #expect(machine.start() == .connect)
        #expect(machine.connectSucceeded() == .restore)
        #expect(machine.restoreSucceeded() == .none)
        #expect(machine.state == .connected)
        #expect(machine.reconnects == 0)

        #expect(machine.connectionLost(lost) == .wait(.milliseconds(100)))
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.attemptFailed(refused) == .wait(.milliseconds(200)))
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.attemptFailed(refused) == .wait(.milliseconds(400)))
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.connectSucceeded() == .restore)
        #expect(machine.restoreSucceeded() == .none)
        #expect(machine.reconnects == 1)
        // A fresh loss starts the backoff from the beginning again.
        #expect(machine.connectionLost(lost) == .wait(.milliseconds(100)))
    }

    @Test func givesUpAfterMaxAttempts() {
        var machine = ReconnectStateMachine(backoff: ReconnectBackoff(initial: .milliseconds(10), maxAttempts: 3))
        #expect(machine.start() == .connect)
        #expect(machine.attemptFailed(refused) == .wait(.milliseconds(20)))
        #expect(machine.backoffElapsed() == .connect)
        #expect(machine.attemptFailed(refused) == .wait(.milliseconds(40)))
        #expect(machine.backoffElapsed() == .connect)
        guard case .giveUp(let error) = machine.attemptFailed(refused) else {
            Issue.record("expected giveUp, state \(machine.state)")
            return
        }
        #expect(error.code == .reconnectExhausted)
        #expect(machine.backoffElapsed() == .none)
    }

    @Test func permanentErrorsAreNotRetried() {
        var machine = ReconnectStateMachine()
        _ = machine.start()
        let denied = AMQPError(.accessRefused, "Login was refused", operation: "login")
        #expect(machine.attemptFailed(denied) == .giveUp(denied))
        #expect(machine.state == .failed(denied))
    }

    @Test func failedRestoreBacksOff() {
        var machine = ReconnectStateMachine(backoff: ReconnectBackoff(initial: .milliseconds(50), maxAttempts: nil))
        _ = machine.start()
        #expect(machine.connectSucceeded() == .restore)
        #expect(machine.attemptFailed(lost) == .wait(.milliseconds(100)))
    }

    @Test func eventsOutOfOrderAreIgnored() {
        var machine = ReconnectStateMachine()
        #expect(machine.connectionLost(lost) == .none)
        #expect(machine.restoreSucceeded() == .none)
        #expect(machine.backoffElapsed() == .none)
        _ = machine.start()
        #expect(machine.start() == .none)
        _ = machine.stop()
        #expect(machine.connectSucceeded() == .none)
        #expect(machine.state == .stopped)
    }
}
