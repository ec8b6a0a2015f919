import ArgumentParser

// Placeholder: replaced by the learning work.
struct Train: AsyncParsableCommand {}
