import ArgumentParser

// Placeholder: replaced by the wire work.
struct Inspect: AsyncParsableCommand {}
