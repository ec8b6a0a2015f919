import FedCore
import Testing

struct ThreadCPUTimeTests {
    /// A thread that computes uses CPU time, and never more than the wall time that passed
    /// (on a busy machine, less: it waits for a core in between).
    @Test func computingUsesCPUTimeUpToTheWallTime() {
        let wallBegan = ContinuousClock.now
        let began = ThreadCPUTime.now()
        var x: UInt64 = 1
        while ThreadCPUTime.now() - began < .milliseconds(20), ContinuousClock.now - wallBegan < .seconds(10) {
            for _ in 0..<10_000 { x = x &* 6_364_136_223_846_793_005 &+ 1 }
        }
        let used = ThreadCPUTime.now() - began
        let wall = ContinuousClock.now - wallBegan
        #expect(x != 0)
        #expect(used >= .milliseconds(20), "\(used)")
        #expect(used <= wall + .milliseconds(2), "\(used) of CPU in \(wall)")
    }
}
