import ArgumentParser

// Placeholder: replaced by the amqp work.
struct BenchAMQP: AsyncParsableCommand {}
