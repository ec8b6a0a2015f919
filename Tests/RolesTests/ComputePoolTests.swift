@testable import Roles
import Messaging
import Report
import Simulation
import Foundation
import Testing

@Suite struct ComputePoolTests {
    @Test func everyJobRunsOnceOnAThreadWithItsOwnState() async {
        // Each thread's state is its index, built once on that thread.
        let pool = ComputePool<Int>(threads: 3, name: "test") { index in index }
        defer { pool.shutdown() }
        let results = await withTaskGroup(of: (job: Int, square: Int, thread: Int).self) { group in
            for job in 0..<200 {
                group.addTask {
                    await pool.run { (thread: inout Int) in (job, job * job, thread) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 200)
        #expect(Set(results.map(\.job)) == Set(0..<200))
        #expect(results.allSatisfy { $0.square == $0.job * $0.job })
        #expect(Set(results.map(\.thread)).isSubset(of: [0, 1, 2]))
    }
}
