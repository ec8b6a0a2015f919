import ArgumentParser
import CLISupport
import Foundation
import Wire

/// `fedq inspect FILE|-`: explains one message, typically one dumped from the dead-letter queue.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a message's header, codec, size and decoded statistics; exit 1 if it is invalid."
    )

    @Argument(help: "Message file, or - for standard input.")
    var file: String

    @Option(help: "Expected model spec hash (hex); a mismatch is reported as an error.")
    var specHash: String?

    @Option(help: "Expected parameter count; a mismatch is reported as an error.")
    var parameters: Int?

    func validate() throws {
        if let specHash, UInt64(specHash.replacingOccurrences(of: "0x", with: ""), radix: 16) == nil {
            throw ValidationError("--spec-hash must be hexadecimal")
        }
        if (specHash == nil) != (parameters == nil) {
            throw ValidationError("--spec-hash and --parameters go together")
        }
    }

    /// - Throws: the `WireError` that makes the message invalid, after printing what can be shown.
    func run() throws {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try CommandError.read(file)
        let bytes = [UInt8](data)
        var expectation: ModelExpectation?
        if let specHash, let parameters, let hash = UInt64(specHash.replacingOccurrences(of: "0x", with: ""), radix: 16) {
            expectation = ModelExpectation(specHash: hash, parameterCount: parameters)
        }
        do {
            if StatisticsReport.isStatistics(bytes) {
                print(try StatisticsReport(bytes, specHash: expectation?.specHash).text)
                return
            }
            print(MessageReport(try Envelope(bytes: bytes, expecting: expectation)).text)
        } catch {
            // A NaN/Inf update is still worth looking at: show it, then fail with the typed error
            // (the argument parser prints its description and exits 1).
            switch error {
            case .nonFinite, .invalidScale:
                if let envelope = try? Envelope(bytes: bytes, expecting: expectation, rejectNonFinite: false) {
                    print(MessageReport(envelope).text)
                }
            default: break
            }
            // What the pipeline puts in the dead-letter headers, to match them up.
            print("\(MessageProperties.HeaderName.rejectReason): \(error.rejectionReason.name)")
            print("\(MessageProperties.HeaderName.rejectDetail): \(error.reasonCode)")
            throw error
        }
    }
}

/// The human-readable description `fedq inspect` prints.
struct MessageReport {
    let text: String

    init(_ envelope: Envelope) {
        let header = envelope.header
        let values = envelope.decode()
        var sumSquares = 0.0
        var nanCount = 0
        var infinityCount = 0
        var nonZero = 0
        for value in values {
            if value.isNaN { nanCount += 1 } else if value.isInfinite { infinityCount += 1 } else { sumSquares += Double(value * value) }
            if value != 0 { nonZero += 1 }
        }
        let fp32Bytes = 4 * header.parameterCount + Envelope.headerByteCount + Envelope.trailerByteCount
        var lines = [
            "kind:            \(header.kind) (\(header.kind.contentType))",
            "format version:  \(Envelope.formatVersion)",
            "spec hash:       0x\(String(header.specHash, radix: 16))",
            "model version:   \(header.modelVersion)",
            "update id:       \(header.updateID.hex)",
            "client id:       \(header.clientID)",
            "sample count:    \(header.sampleCount)",
            "local steps:     \(header.localSteps)",
            "parameters:      \(header.parameterCount)",
            "codec:           \(header.codec)",
            "message bytes:   \(envelope.messageByteCount) (codec output \(envelope.encodedByteCount))",
            String(format: "ratio vs fp32:   %.2fx", Double(fp32Bytes) / Double(max(envelope.messageByteCount, 1))),
        ]
        if let scaling = envelope.standardization {
            lines.append("standardisation: \(scaling.featureCount) features")
            for feature in 0..<min(scaling.featureCount, 10) {
                lines.append("  feature \(feature): mean \(scaling.means[feature]), deviation \(scaling.deviations[feature])")
            }
            if scaling.featureCount > 10 { lines.append("  ... \(scaling.featureCount - 10) more") }
        }
        if let partial = envelope.partial {
            lines.append("weight total:    \(partial.weightTotal)")
            lines.append("update count:    \(partial.updateCount)")
            for entry in partial.entries.prefix(10) {
                lines.append("  \(entry.updateID.hex) base version \(entry.baseVersion)")
            }
            if partial.updateCount > 10 { lines.append("  ... \(partial.updateCount - 10) more") }
        }
        lines.append(String(format: "L2 norm:         %.6g", sumSquares.squareRoot()))
        lines.append("NaN count:       \(nanCount)")
        lines.append("Inf count:       \(infinityCount)")
        lines.append("non-zero:        \(nonZero)")
        text = lines.joined(separator: "\n")
    }
}

/// What `fedq inspect` prints for a table federation client's statistics message (`FDQS`,
/// docs/wire-format.md): whose rows, how many, and the means and deviations they imply.
/// Never a row: the message holds none.
struct StatisticsReport {
    let text: String

    static func isStatistics(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes.prefix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) } == StatisticsMessage.magic
    }

    /// Decodes against the message's own spec hash and width (or the expected hash): the
    /// decoder's every other check (length, CRC, count, finite sums, variance) still applies.
    /// - Throws: `WireError`, as the coordinator would refuse it.
    init(_ bytes: [UInt8], specHash expected: UInt64?) throws(WireError) {
        func field<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            guard bytes.count >= offset + MemoryLayout<T>.size else { return 0 }
            return bytes[offset..<(offset + MemoryLayout<T>.size)].enumerated().reduce(T(0)) { $0 | T($1.element) << (8 * $1.offset) }
        }
        let message = try StatisticsMessage(
            bytes: bytes, featureCount: Int(field(32, UInt32.self)), specHash: expected ?? field(8, UInt64.self))
        let n = Double(message.count)
        var lines = [
            "kind:            statistics (\(StatisticsMessage.contentType))",
            "format version:  \(StatisticsMessage.formatVersion)",
            "spec hash:       0x\(String(message.specHash, radix: 16))",
            "client id:       \(message.clientID)",
            "rows:            \(message.count)",
            "features:        \(message.featureCount)",
            "message bytes:   \(bytes.count)",
        ]
        for feature in 0..<min(message.featureCount, 10) {
            let mean = message.sums[feature] / n
            let deviation = max(message.sumsOfSquares[feature] / n - mean * mean, 0).squareRoot()
            lines.append(String(format: "  feature %d: mean %.6g, deviation %.6g", feature, mean, deviation))
        }
        if message.featureCount > 10 { lines.append("  ... \(message.featureCount - 10) more") }
        text = lines.joined(separator: "\n")
    }
}
