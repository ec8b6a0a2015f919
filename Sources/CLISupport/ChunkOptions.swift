import ArgumentParser
import Wire

/// `--chunk-size`: messages longer than this travel as chunks (docs/wire-format.md,
/// "Chunks"). RabbitMQ 4 refuses messages over 16 MiB by default, and large messages hold
/// up a quorum queue, so the default (4 MiB) keeps every message well under the limit. Every
/// role of a deployment should use the same value: a subscriber sizes its model queue by it.
public struct ChunkOptions: ParsableArguments {
    @Option(help: """
        Bytes: updates, partials and model versions longer than this travel as chunks that \
        the receiver reassembles (4096 to 16777216 minus 64 KiB; every role the same).
        """)
    public var chunkSize: Int = Chunk.defaultChunkSize

    public init() {}

    /// `FEDQ_CHUNK_SIZE` sets it for every role of a deployment from one environment file.
    public static let environmentFlags = ["chunk-size"]

    /// RabbitMQ's default limit less room for a chunk's header and the AMQP properties.
    public static let maximum = (16 << 20) - (64 << 10)

    public func validate() throws {
        guard chunkSize >= Chunk.minimumChunkSize, chunkSize <= Self.maximum else {
            throw ValidationError("--chunk-size must be in \(Chunk.minimumChunkSize)...\(Self.maximum)")
        }
    }
}
