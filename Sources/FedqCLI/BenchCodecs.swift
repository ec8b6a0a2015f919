import ArgumentParser

// Placeholder: replaced by the wire work.
struct BenchCodecs: AsyncParsableCommand {}
