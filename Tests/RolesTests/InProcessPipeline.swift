import Messaging
import Roles

/// A worker and a coordinator running together in this process, as the in-process role
/// tests (`RoleTests.RunningRoles`, `ChunkedPipelineTests.ChunkedRoles`) drive them.
enum InProcessPipeline {
    /// Runs `worker` and `coordinator` in one task, which ends when either ends, and returns
    /// it once the broker counts a consumer on each of `queues`: on RabbitMQ the consumers
    /// take a moment, and a test that published before them would race them.
    static func start(
        worker: AggregatorWorker, coordinator: Coordinator, setup: any Transport, consuming queues: [String]
    ) async throws -> Task<Void, any Error> {
        let running = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                group.addTask { try await coordinator.run() }
                try await group.next()
            }
        }
        for _ in 0..<500 {
            var consumed = true
            for queue in queues where try await setup.queueStatus(queue).consumerCount < 1 { consumed = false }
            if consumed { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return running
    }
}
