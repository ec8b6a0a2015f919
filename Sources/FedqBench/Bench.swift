import ArgumentParser

/// `fedq bench …`: the benchmarks that back the figures in BENCHMARKS.md.
public struct Bench: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Measure throughput of the transport, codecs and training.",
        subcommands: [BenchAMQP.self, BenchCodecs.self, BenchTrain.self, BenchDPSGD.self, BenchTransport.self, BenchSigning.self]
    )

    public init() {}
}
