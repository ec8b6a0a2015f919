import ArgumentParser
import Foundation
import Testing

@testable import CLISupport
@testable import FedqBench
@testable import FedqCLI

/// The real `fedq` parser: what a user typing a wrong command line sees.
@Suite struct ArgumentTests {
    /// The WDBC table with a `hospital` column (data/wdbc/README.md).
    static let hospitals = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/wdbc/wdbc-hospitals.csv").path

    /// Public bounds for that table's features, and for the table without `hospital`.
    static let hospitalRanges = URL(fileURLWithPath: hospitals).deletingLastPathComponent().appendingPathComponent("wdbc-hospitals-ranges.csv").path
    static let wdbcRanges = URL(fileURLWithPath: hospitals).deletingLastPathComponent().appendingPathComponent("wdbc-ranges.csv").path

    /// Parses `arguments` as `fedq` would and returns the error it refuses them with.
    private func refusal(_ arguments: [String]) -> (any Error)? {
        do {
            _ = try Fedq.parseAsRoot(arguments)
            return nil
        } catch {
            return error
        }
    }

    /// The load test runs its roles on `synthetic:P`, a model of P parameters and no data:
    /// it must not be held against MNIST's 784 inputs.
    @Test func aSyntheticModelIsTakenWhateverTheDataset() throws {
        let options = try ModelOptions.parse(["--model", "synthetic:199210"])
        #expect(try options.modelSpec().parameterCount == 199_210)
    }

    @Test(arguments: [
        (["train", "--bogus"], "Unknown option '--bogus'"),
        (["bench", "codecs", "--fast"], "Unknown option '--fast'"),
        (["inspect", "a.msg", "--verbose"], "Unknown option '--verbose'"),
        // Local DP is the clients' own: a worker has no such option.
        (["worker", "--broker", "amqp://u@127.0.0.1/", "--ldp-clip", "1"], "Unknown option '--ldp-clip'. Did you mean '--dp-clip'?"),
        (["bench", "transport", "--size", "10"], "Unknown option '--size'"),
    ])
    func unknownFlagIsRefusedByName(arguments: [String], message: String) throws {
        let error = try #require(refusal(arguments))
        #expect(Fedq.message(for: error).contains(message))
        #expect(Fedq.exitCode(for: error) == .validationFailure)
    }

    @Test(arguments: [
        (["train", "--model", "foo"], "--model: layer 1: unknown layer 'foo'"),
        (["train", "--batch", "0"], "--batch must be positive"),
        (["train", "--epochs", "0"], "--epochs must be positive"),
        (["train", "--momentum", "1.5"], "momentum"),
        (["bench", "codecs", "--model", "foo"], "--model: layer 1: unknown layer 'foo'"),
        (["simulate", "--model", "dense:64,relu,dense:2"], "--model: the last layer yields 2 values per sample, but the data has 10 classes"),
        (["worker", "--model", "dense:64,relu,dense:10", "--input", "30"], "--input: input 30 is 30 values per sample, but the dataset has 784"),
        (["train", "--model", "mlp", "--model-file", "m.json"], "give --model or --model-file, not both"),
        (["bench", "codecs", "--codecs", "int8+zstd"], "unknown codec stage 'zstd'"),
        (["bench", "codecs", "--codecs", "topk:2"], "invalid parameter '2' for topk"),
        (["bench", "codecs", "--codecs", "deflate+int8"], "out of order"),
        (["bench", "train", "--batches", "10,x"], "--batches must be positive integers"),
        (["bench", "transport", "--sizes", "1000,big"], "--sizes must be byte counts"),
        (["bench", "transport", "--messages", "0"], "--messages must be positive"),
        (["loadtest", "--broker", "amqp://u@127.0.0.1/", "--clients", "0"], "--clients must be positive"),
        (["coordinator", "--broker", "amqp://u@127.0.0.1/", "--max-client-rate=-1"], "--max-client-rate must be >= 0 (0: no limit)"),
        (["bench", "amqp", "--broker", "amqp://127.0.0.1/", "--queue-types", "classic,fifo"], "--queue-types must be classic, quorum or stream"),
        (["bench", "amqp", "--broker", "amqp://127.0.0.1/", "--ack-every", "65"], "--ack-every must be in 1...--prefetch (64), got 65"),
        (["bench", "amqp", "--broker", "amqp://127.0.0.1/", "--ack-delay-ms=-5"], "--ack-delay-ms must not be negative, got -5"),
        (["inspect", "a.msg", "--spec-hash", "xyz", "--parameters", "10"], "--spec-hash must be hexadecimal"),
        (["inspect", "a.msg", "--parameters", "10"], "--spec-hash and --parameters go together"),
        (["simulate", "--broker", "rabbitmq"], "--broker: 'embedded' or an amqp:// or amqps:// URL"),
        (["simulate", "--broker", "amqp://guest:guest@127.0.0.1:notaport/"], "--broker"),
        (["simulate", "--broker", "amqp://h/?auth_mechanism=external"], "auth_mechanism needs an amqps:// URL"),
        (["simulate", "--broker", "amqps://h/?auth_mechanism=external"], "auth_mechanism=external logs in with the client certificate: add certfile="),
        (["topology", "apply", "--broker", "amqps://h/?cacertfile=/nonexistent/ca.pem"], "--broker: cacertfile=/nonexistent/ca.pem in amqps://guest@h:5671/%2F: the file does not exist"),
        (["topology", "check", "--broker", "amqps://h/?certfile=/nonexistent/w.pem"], "--broker: certfile=/nonexistent/w.pem in amqps://guest@h:5671/%2F: the file does not exist"),
        (["simulate", "--clients", "-5"], "--clients must be positive"),
        (["simulate", "--eval-share", "0"], "--eval-share must be in (0, 1]"),
        (["eval", "--eval-share", "1.5"], "--eval-share must be in (0, 1]"),
        (["simulate", "--eval-interval-ms=-1"], "--eval-interval-ms must be >= 0"),
        (["simulate", "--updates-queue", "stream"], "--update-shards (1) must be >= --workers (2)"),
        (["worker", "--updates-queue", "log"], "--updates-queue must be quorum, stream or classic, got 'log'"),
        (["topology", "apply", "--broker", "amqp://127.0.0.1", "--updates-queue", "lake"], "--updates-queue must be quorum, stream or classic, got 'lake'"),
        (["simulate", "--momentum=1.5"], "--momentum must be in [0, 1), got 1.5"),
        (["simulate", "--lr-decay", "0"], "--lr-decay must be a positive version, got 0"),
        (["fleet", "--lr", "-1"], "--lr must be a positive number, got -1.0"),
        (["simulate", "--log-level", "loud"], "--log-level: one of trace"),
        (["simulate", "--dp-clip", "1"], "--dp-clip needs --dp-noise-multiplier"),
        (["simulate", "--dp-noise-multiplier", "1"], "--dp-noise-multiplier needs --dp-clip"),
        (["simulate", "--dp-clip", "-1", "--dp-noise-multiplier", "1"], "--dp-clip must be a positive number, got -1.0"),
        (["simulate", "--dp-clip", "1", "--dp-noise-multiplier", "1", "--dp-delta", "2"], "--dp-delta must be in (0, 1), got 2.0"),
        (["simulate", "--dp-clip", "1", "--dp-noise-multiplier", "1", "--weigh-by-samples"], "--weigh-by-samples cannot be used with --dp-clip"),
        (["simulate", "--dp-final-average", "0.9"], "--dp-final-average needs --dp-clip"),
        (["simulate", "--dp-clip", "1", "--dp-noise-multiplier", "1", "--dp-final-average", "0.9"], "--dp-final-average needs --dp-target-epsilon"),
        (["simulate", "--dp-clip", "1", "--dp-noise-multiplier", "1", "--dp-target-epsilon", "8", "--dp-final-average", "1"],
         "--dp-final-average must be in [0, 1), got 1.0"),
        (["coordinator", "--dp-clip", "1", "--dp-noise-multiplier", "1"], "--dp-population is needed with --dp-clip"),
        (["coordinator", "--statistics-quorum", "3"], "--statistics-quorum needs --dataset (MNIST needs no standardisation)"),
        (["worker", "--revoked", "revoked.txt"], "--revoked needs --issuer-key: without it no update carries a credential to revoke"),
        (["worker", "--notice-wait", "forever"], "--notice-wait needs --issuer-key and --coordinator-key"),
        (["worker", "--return-shelf", "-1"], "--return-shelf must be 0 or more MiB (at most 1048576), got -1"),
        (["worker", "--return-shelf", "lots"], "The value 'lots' is invalid for '--return-shelf <mib>'"),
        (["worker", "--notice-wait", "soon"], "--notice-wait must be a number of seconds (0 or more) or 'forever', got 'soon'"),
        (["worker", "--notice-wait", "-1"], "--notice-wait must be a number of seconds (0 or more) or 'forever', got '-1'"),
        (["coordinator", "--revoked", "revoked.txt"], "--revoked on the coordinator needs --signing-key: the list goes to the workers signed"),
        (["keys", "revoke", "--list", "revoked.txt"], "give either --clients or --credential"),
        (["keys", "revoke", "--list", "revoked.txt", "--clients", "3", "--credential", "c.cred"], "give either --clients or --credential"),
        (["keys", "revoke", "--list", "revoked.txt", "--clients", "9-3"], "--clients: '9-3' is not N or A-B with A <= B"),
        (["coordinator", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis"],
         "--dataset needs --statistics-quorum N (the number of clients whose statistics make the standardisation) or --feature-ranges FILE"),
        (["coordinator", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--statistics-quorum", "3", "--feature-ranges", ArgumentTests.hospitalRanges],
         "--statistics-quorum and --feature-ranges are two ways to scale the table: give one"),
        (["coordinator", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--statistics-quorum", "3", "--dp-clip", "1", "--dp-noise-multiplier", "1", "--dp-population", "100"],
         "--dp-clip on a --dataset table needs --feature-ranges FILE: a standardisation made of the clients' statistics is released in every version without noise"),
        (["simulate", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2", "--dp-clip", "1", "--dp-noise-multiplier", "1"],
         "--dp-clip on a --dataset table needs --feature-ranges FILE"),
        (["simulate", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2", "--ldp-clip", "1", "--ldp-noise-multiplier", "1"],
         "--ldp-clip on a --dataset table needs --feature-ranges FILE"),
        (["simulate", "--ldp-clip", "1"], "--ldp-clip needs --ldp-noise-multiplier: a clipped update without noise is not private"),
        (["fleet", "--ldp-unit", "record"], "--ldp-unit needs --ldp-clip (which turns local differential privacy on)"),
        (["simulate", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-unit", "patient"], "The value 'patient' is invalid for '--ldp-unit <ldp-unit>'. Please provide one of 'update' and 'record'."),
        (["fleet", "--ldp-noise-multiplier", "2"], "--ldp-noise-multiplier needs --ldp-clip (which turns local differential privacy on)"),
        (["client", "--client-index", "0", "--ldp-budget-file", "books.json"], "--ldp-budget-file needs --ldp-clip"),
        (["simulate", "--ldp-clip", "1", "--ldp-noise-multiplier", "0"], "--ldp-noise-multiplier must be a positive number, got 0.0"),
        (["fleet", "--ldp-clip", "-2", "--ldp-noise-multiplier", "1"], "--ldp-clip must be a positive number, got -2.0"),
        (["simulate", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-target-epsilon", "0"], "--ldp-target-epsilon must be a positive number, got 0.0"),
        (["simulate", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-delta", "1"], "--ldp-delta must be in (0, 1), got 1.0"),
        (["fleet", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-budget-file", ""], "--ldp-budget-file must name a file"),
        (["fleet", "--ldp-sampling-rate", "0.1"], "--ldp-sampling-rate needs --ldp-clip (which turns local differential privacy on)"),
        (["simulate", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-sampling-rate", "0.1"],
         "--ldp-sampling-rate applies to --ldp-unit record only (an update is released whole)"),
        (["client", "--client-index", "0", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-unit", "record", "--ldp-sampling-rate", "1.5"],
         "--ldp-sampling-rate must be in (0, 1], got 1.5"),
        (["simulate", "--ldp-clip", "1", "--ldp-noise-multiplier", "1", "--ldp-unit", "record", "--ldp-sampling-rate", "-0.1"],
         "--ldp-sampling-rate must be in (0, 1], got -0.1"),
        (["simulate", "--feature-ranges", ArgumentTests.hospitalRanges], "--feature-ranges needs --dataset (MNIST needs no scaling)"),
        (["train", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2", "--feature-ranges", ArgumentTests.wdbcRanges],
         "wdbc-ranges.csv: no range for `hospital`"),
        (["simulate", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2", "--feature-ranges", "no-such-ranges.csv"],
         "--feature-ranges: no-such-ranges.csv: no such file, not readable or not UTF-8"),
        (["simulate", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2", "--feature-ranges", ArgumentTests.wdbcRanges],
         "wdbc-ranges.csv: no range for `hospital`"),
        (["coordinator", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--statistics-quorum", "0"],
         "--statistics-quorum must be at least 1, got 0"),
        (["simulate", "--partition", "column:"], "--partition: bad partition 'column:': column takes the name of a table column"),
        (["simulate", "--partition", "column:hospital"], "--partition: column:hospital splits a --dataset table by one of its columns; MNIST has none"),
        (["simulate", "--partition", "column:hospital", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2"],
         "--partition: column:hospital has 4 values (1, 2, 3, 4) and one client per value, but --clients is 100: run with --clients 4"),
        (["simulate", "--partition", "column:site", "--clients", "4", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2"],
         "--partition: column:site: no such feature column (columns: radius_mean,"),
        (["simulate", "--partition", "column:diagnosis", "--clients", "2", "--dataset", ArgumentTests.hospitals, "--label", "diagnosis", "--model", "dense:8,relu,dense:2"],
         "--partition: column:diagnosis is the label column"),
    ])
    func badValueIsRefusedByValidation(arguments: [String], message: String) throws {
        let error = try #require(refusal(arguments))
        #expect(Fedq.message(for: error).contains(message))
        #expect(Fedq.exitCode(for: error) == .validationFailure)
    }

    /// `fedq train --feature-ranges` scales the table by the bounds, as a federation would:
    /// every row of WDBC lies within them, so every scaled value lies in [-1, 1], which the
    /// training rows' own standardisation does not give.
    @Test func trainScalesATableByPublicBoundsWhenGiven() throws {
        let table = URL(fileURLWithPath: Self.hospitals).deletingLastPathComponent().appendingPathComponent("wdbc.csv").path
        let command = try #require(
            try Fedq.parseAsRoot(["train", "--dataset", table, "--label", "diagnosis", "--feature-ranges", Self.wdbcRanges]) as? Train)
        let bounds = try #require(try command.datasetOptions.publicStandardization())
        let scaled = try TrainingData.csv(path: table, label: "diagnosis", testFraction: 0.2, seed: 1, standardization: bounds)
        let own = try TrainingData.csv(path: table, label: "diagnosis", testFraction: 0.2, seed: 1)
        #expect(scaled.train.features.allSatisfy { (-1...1).contains($0) })
        #expect(scaled.test.features.allSatisfy { (-1...1).contains($0) })
        #expect(!own.train.features.allSatisfy { (-1...1).contains($0) })
        #expect(scaled.train.count == own.train.count && scaled.train.labels == own.train.labels)
    }

    @Test func validCommandLinesParseToTheirCommands() throws {
        let train = try #require(try Fedq.parseAsRoot(["train", "--model", "cnn", "--batch", "10"]) as? Train)
        #expect(train.modelOptions.model == "cnn" && train.batch == 10)
        let codecs = try #require(try Fedq.parseAsRoot(["bench", "codecs", "--codecs", "int8", "topk:0.01+int8"]) as? BenchCodecs)
        #expect(codecs.codecs == ["int8", "topk:0.01+int8"])
        let transport = try #require(try Fedq.parseAsRoot(["bench", "transport", "--messages", "5"]) as? BenchTransport)
        #expect(transport.messages == 5)
        let simulate = try #require(
            try Fedq.parseAsRoot(["simulate", "--broker", "amqps://fedq:secret@broker.example:5671/fl"]) as? Simulate)
        let broker = try simulate.connector()
        // The description is what logs and progress lines show: the password never.
        #expect(broker.description == "amqps://fedq@broker.example:5671/fl" && !broker.isEmbedded)
        #expect(try #require(try Fedq.parseAsRoot(["simulate"]) as? Simulate).connector().isEmbedded)
    }
}
