import ArgumentParser
import Roles

extension UpdateShards {
    /// `--update-shards COUNT` with `--updates-queue TYPE`, as every command that takes them
    /// reads them: a bad value is one `ValidationError` line naming its flag.
    public static func parsing(count: Int, queueType: String) throws -> UpdateShards {
        do { return try UpdateShards(count).with(UpdatesQueueType(parsing: queueType)) } catch {
            throw ValidationError(error.description)
        }
    }
}
