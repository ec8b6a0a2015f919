import Aggregation
import FedCore
import Foundation
import Learning
import Messaging
import Privacy
import Wire

/// Why the coordinator's directory could not be read or written.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case io(path: String, reason: String)
    case corrupt(path: String, reason: String)
    /// The checkpoint is another model's (spec hash or parameter count).
    case wrongModel(path: String)
    /// The checkpoint was written by a run with another strategy.
    case wrongStrategy(path: String, stored: String, configured: String)
    /// The model in (or on its way to) the checkpoint holds NaN or ∞: resuming from it
    /// would publish a broken model forever, so it is never written and never loaded.
    case nonFiniteModel(path: String)
    /// `--feature-ranges` gives other bounds than the checkpoint's model was scaled with.
    case otherScaling(path: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .corrupt(let path, let reason): "\(path): corrupt checkpoint: \(reason)"
        case .wrongModel(let path): "\(path): the checkpoint is for another model"
        case .wrongStrategy(let path, let stored, let configured):
            "\(path): the checkpoint's run used strategy \(stored), this one \(configured): pass --strategy \(stored) to go on with it, or use another --checkpoint directory"
        case .nonFiniteModel(let path):
            "\(path): the checkpoint's model holds NaN or infinite values; refusing to resume from it (move it away to start afresh)"
        case .otherScaling(let path):
            "\(path): the checkpoint's model was scaled with other feature bounds than --feature-ranges gives: every version so far meant its weights relative to those; give the same file, or use another --checkpoint directory"
        }
    }
}

/// One line of `updates.csv`: what became of an update, and in which model version.
public struct SettlementRecord: Sendable, Equatable {
    public enum Disposition: String, Sendable {
        case applied, stale, rejected
    }
    public var id: UpdateID
    public var disposition: Disposition
    /// The rejection reason (nil for applied and stale: the disposition says it all).
    public var reason: RejectionReason?
    /// The version the update went into (applied), or the version current when it was settled.
    public var version: ModelVersion
    /// When it was settled (Unix seconds): throughput over time is read off the log.
    public var time: Double

    public init(id: UpdateID, disposition: Disposition, reason: RejectionReason? = nil, version: ModelVersion, time: Double = Date().timeIntervalSince1970) {
        self.id = id
        self.disposition = disposition
        self.reason = reason
        self.version = version
        self.time = time
    }

    public static let header = "update_id,disposition,reason,version,time\n"
    var line: String { "\(id),\(disposition.rawValue),\(reason?.name ?? ""),\(version),\(String(format: "%.3f", time))\n" }

    /// Parses a line of `updates.csv`; nil for the header or a malformed line.
    public init?(line: Substring) {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == 5, let id = UpdateID(hex: String(fields[0])),
            let disposition = Disposition(rawValue: String(fields[1])), let version = UInt64(fields[3]),
            let time = Double(fields[4])
        else { return nil }
        let reason = RejectionReason(name: fields[2])
        guard fields[2].isEmpty || reason != nil else { return nil }
        self.init(id: id, disposition: disposition, reason: reason, version: version, time: time)
    }
}

/// The coordinator's directory: `checkpoint.fedq`, replaced atomically for each
/// committed state, and `updates.csv`, the append-only log of every update's fate.
///
/// The order of a commit makes a crash at any point harmless: log lines are appended
/// and synced, then the checkpoint (which records the log's length) is written to a
/// temporary file, synced and renamed over the old one. A restart loads the checkpoint
/// and cuts the log back to the length it records, dropping lines of a commit that
/// never completed; their partials were not acknowledged and come back.
public final class CoordinatorStore: Sendable {
    public let directory: String
    public var checkpointPath: String { directory + "/checkpoint.fedq" }
    public var logPath: String { directory + "/updates.csv" }
    /// The serial of the last revocation list the coordinator signed, in decimal. A file of
    /// its own, not a field of the checkpoint: it is written whenever the list changes,
    /// which may be while the state holds changes that are not committed yet.
    public var revocationsSerialPath: String { directory + "/revocations-serial" }

    /// The serial `recordRevocationsSerial` wrote last (nil: none, or unreadable: the clock
    /// then decides, as before there was a file).
    public func revocationsSerial() -> UInt64? {
        FileManager.default.contents(atPath: revocationsSerialPath)
            .flatMap { String(data: $0, encoding: .utf8) }
            .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Keeps `serial` before the list signed with it goes out, so a successor (a restart, a
    /// standby on another host) whose clock is behind still signs a larger one.
    public func recordRevocationsSerial(_ serial: UInt64) throws(CheckpointError) {
        do {
            try Data("\(serial)\n".utf8).write(to: URL(fileURLWithPath: revocationsSerialPath), options: .atomic)
        } catch { throw .io(path: revocationsSerialPath, reason: "\(error)") }
    }

    static let magic = Array("FEDQCKPT".utf8)
    static let formatVersion: UInt32 = 1

    public init(directory: String) throws(CheckpointError) {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch { throw .io(path: directory, reason: "\(error.localizedDescription)") }
    }

    private struct Meta: Codable {
        var version: UInt64
        var updatesApplied: Int
        var specHash: UInt64
        var parameterCount: Int
        var strategy: String
        var optimizer: ServerOptimizer.Rule
        var optimizerSteps: Int
        var firstMomentCount: Int
        var secondMomentCount: Int
        var settledCapacity: Int
        var settledCount: Int
        var accounting: AggregationAccounting
        var logLength: UInt64
        /// Absent in checkpoints of runs without differential privacy.
        var privacy: RDPAccountant?
        /// Ids remembered by version (`SettledIndex`), after the refusals' window; absent
        /// in checkpoints written before the index kept any.
        var versionedCount: Int?
        /// A table federation's frozen standardisation, as `f32` bit patterns (exact);
        /// absent before the freeze and for MNIST.
        var standardizationMeans: [UInt32]?
        var standardizationDeviations: [UInt32]?
        /// The stream ledger; absent on queue shards (and in checkpoints before streams).
        var streams: StreamLedger?
        /// The versions' average of a private run that releases it (`IterateAverage`): its
        /// decay and count here, its parameters after the optimizer's moments; absent otherwise.
        var averageDecay: Double?
        var averageCount: Int?
        /// The budget closed with the average released; absent while it is open.
        var budgetClosed: Bool?
        /// Partials whose new updates the coordinator asked back (`PendingReturn`); absent
        /// when none are outstanding.
        var returns: [PendingReturn]?
    }

    /// The last committed state, or nil for a new directory. Cuts `updates.csv` back to
    /// the length the checkpoint records.
    public func load(spec: ModelSpec, strategy: String, stalenessHorizon: Int = StalenessPolicy.defaultHorizon) throws(CheckpointError) -> CoordinatorState? {
        guard FileManager.default.fileExists(atPath: checkpointPath) else {
            try truncateLog(to: 0)
            return nil
        }
        guard let data = FileManager.default.contents(atPath: checkpointPath) else {
            throw .io(path: checkpointPath, reason: "cannot read")
        }
        let bytes = [UInt8](data)
        func corrupt(_ reason: String) -> CheckpointError { .corrupt(path: checkpointPath, reason: reason) }
        guard bytes.count >= 20, Array(bytes[0..<8]) == Self.magic else { throw corrupt("not a FedQueue checkpoint") }
        let stored = bytes[(bytes.count - 4)...].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        guard CRC32C.checksum(bytes[..<(bytes.count - 4)]) == stored else { throw corrupt("checksum mismatch") }
        typealias Restored = (Meta, [Float], [Float], [Float], [Float], SettledIndex)
        // `withUnsafeBytes` rethrows untyped errors: the reading returns a typed Result instead.
        let restored = bytes.withUnsafeBytes { buffer in Result { () throws(CheckpointError) -> Restored in
            var reader = ByteReader(buffer, offset: 8)
            guard reader.read(UInt32.self) == Self.formatVersion else { throw corrupt("unknown format version") }
            guard let metaLength = reader.read(UInt32.self), let metaBytes = reader.read(count: Int(metaLength)),
                let meta = try? JSONDecoder().decode(Meta.self, from: Data(metaBytes))
            else { throw corrupt("unreadable metadata") }
            guard meta.specHash == spec.hash, meta.parameterCount == spec.parameterCount else {
                throw .wrongModel(path: checkpointPath)
            }
            guard meta.strategy == strategy else {
                throw .wrongStrategy(path: checkpointPath, stored: meta.strategy, configured: strategy)
            }
            guard let parameters = reader.readFloats(count: meta.parameterCount),
                let first = reader.readFloats(count: meta.firstMomentCount),
                let second = reader.readFloats(count: meta.secondMomentCount), meta.settledCount <= meta.settledCapacity,
                meta.settledCapacity > 0
            else { throw corrupt("truncated") }
            guard let average = reader.readFloats(count: meta.averageCount == nil ? 0 : meta.parameterCount) else {
                throw corrupt("truncated average")
            }
            var settled = RecentIDs(capacity: meta.settledCapacity)
            for _ in 0..<meta.settledCount {
                guard reader.remaining >= 16 else { throw corrupt("truncated id window") }
                settled.insert(reader.updateID(at: reader.offset))
                _ = reader.read(count: 16)
            }
            var versioned: [(id: UpdateID, base: ModelVersion, checksum: UInt32)] = []
            for _ in 0..<(meta.versionedCount ?? 0) {
                guard reader.remaining >= 28 else { throw corrupt("truncated id index") }
                let id = reader.updateID(at: reader.offset)
                _ = reader.read(count: 16)
                guard let base = reader.read(UInt64.self), let checksum = reader.read(UInt32.self) else {
                    throw corrupt("truncated id index")
                }
                versioned.append((id, base, checksum))
            }
            guard reader.offset == buffer.count - 4 else { throw corrupt("trailing bytes") }
            let index = SettledIndex(stalenessHorizon: stalenessHorizon, refusals: settled, versioned: versioned, current: meta.version)
            return (meta, parameters, first, second, average, index)
        } }
        let (meta, parameters, first, second, average, settled) = try restored.get()
        guard parameters.isAllFinite, average.isAllFinite else { throw .nonFiniteModel(path: checkpointPath) }
        let optimizer: ServerOptimizer
        do {
            optimizer = try ServerOptimizer(meta.optimizer, firstMoment: first, secondMoment: second, steps: meta.optimizerSteps)
        } catch { throw corrupt("\(error)") }
        let standardization = try Self.standardization(meta, featureCount: spec.inputSize, corrupt: corrupt)
        try truncateLog(to: meta.logLength)
        var state = CoordinatorState(
            model: GlobalModel(
                version: meta.version, parameters: parameters, updatesApplied: meta.updatesApplied, standardization: standardization),
            optimizer: optimizer, accounting: meta.accounting, settledIDs: settled, strategy: meta.strategy,
            privacy: meta.privacy, streams: meta.streams ?? StreamLedger())
        if let decay = meta.averageDecay, let count = meta.averageCount {
            guard decay >= 0, decay < 1, count > 0 else { throw corrupt("invalid average") }
            state.average = IterateAverage(decay: decay, parameters: average, count: count)
        }
        state.budgetClosed = meta.budgetClosed ?? false
        state.pendingReturns = meta.returns ?? []
        return state
    }

    /// The checkpoint's standardisation, checked as a model version's section would be: the
    /// model's width, finite means, finite positive deviations.
    private static func standardization(
        _ meta: Meta, featureCount: Int, corrupt: (String) -> CheckpointError
    ) throws(CheckpointError) -> Standardization? {
        guard let means = meta.standardizationMeans, let deviations = meta.standardizationDeviations else {
            guard meta.standardizationMeans == nil, meta.standardizationDeviations == nil else { throw corrupt("half a standardisation") }
            return nil
        }
        let standardization = Standardization(means: means.map(Float.init(bitPattern:)), deviations: deviations.map(Float.init(bitPattern:)))
        guard means.count == featureCount, deviations.count == featureCount,
            standardization.means.allSatisfy(\.isFinite), standardization.deviations.allSatisfy({ $0.isFinite && $0 > 0 })
        else { throw corrupt("invalid standardisation") }
        return standardization
    }

    /// Appends `records` to the log, then replaces the checkpoint with `state`; both synced.
    public func commit(_ state: CoordinatorState, spec: ModelSpec, records: [SettlementRecord]) throws(CheckpointError) {
        guard state.model.parameters.isAllFinite else { throw .nonFiniteModel(path: checkpointPath) }
        let logLength = try append(records)
        let ids = state.settledIDs.refusals.oldestFirst
        let versioned = state.settledIDs.versionedEntries
        let average = state.average.flatMap { $0.count > 0 ? $0 : nil }
        let meta = Meta(
            version: state.model.version, updatesApplied: state.model.updatesApplied, specHash: spec.hash,
            parameterCount: state.model.parameters.count, strategy: state.strategy, optimizer: state.optimizer.rule,
            optimizerSteps: state.optimizer.steps, firstMomentCount: state.optimizer.firstMoment.count,
            secondMomentCount: state.optimizer.secondMoment.count, settledCapacity: state.settledIDs.refusals.capacity,
            settledCount: ids.count, accounting: state.accounting, logLength: logLength, privacy: state.privacy,
            versionedCount: versioned.count,
            standardizationMeans: state.model.standardization?.means.map(\.bitPattern),
            standardizationDeviations: state.model.standardization?.deviations.map(\.bitPattern),
            streams: state.streams.shards.isEmpty ? nil : state.streams,
            averageDecay: average?.decay, averageCount: average?.count,
            budgetClosed: state.budgetClosed ? true : nil,
            returns: state.pendingReturns.isEmpty ? nil : state.pendingReturns)
        let metaBytes: [UInt8]
        do { metaBytes = [UInt8](try JSONEncoder().encode(meta)) } catch {
            throw .io(path: checkpointPath, reason: "cannot encode: \(error)")
        }
        var bytes = Self.magic
        bytes.reserveCapacity(64 + metaBytes.count + 4 * (meta.parameterCount * 2 + meta.firstMomentCount * 2) + 16 * ids.count)
        bytes.appendLittleEndian(Self.formatVersion)
        bytes.appendLittleEndian(UInt32(metaBytes.count))
        bytes += metaBytes
        for vector in [state.model.parameters, state.optimizer.firstMoment, state.optimizer.secondMoment, average?.parameters ?? []] {
            vector.withUnsafeBytes { bytes += $0 }
        }
        for id in ids { bytes += id.bytes }
        for entry in versioned {
            bytes += entry.id.bytes
            bytes.appendLittleEndian(entry.base)
            bytes.appendLittleEndian(entry.checksum)
        }
        bytes.appendLittleEndian(CRC32C.checksum(bytes))
        let temporary = checkpointPath + ".tmp"
        try write(bytes, to: temporary)
        guard rename(temporary, checkpointPath) == 0 else {
            throw .io(path: checkpointPath, reason: String(cString: strerror(errno)))
        }
        syncDirectory()
    }

    /// The log's new length after appending and syncing.
    private func append(_ records: [SettlementRecord]) throws(CheckpointError) -> UInt64 {
        let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw .io(path: logPath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var text = lseek(fd, 0, SEEK_END) == 0 ? SettlementRecord.header : ""
        for record in records { text += record.line }
        let bytes = Array(text.utf8)
        guard writeAll(fd, bytes), fsync(fd) == 0 else { throw .io(path: logPath, reason: String(cString: strerror(errno))) }
        return UInt64(lseek(fd, 0, SEEK_END))
    }

    private func truncateLog(to length: UInt64) throws(CheckpointError) {
        guard FileManager.default.fileExists(atPath: logPath) else { return }
        guard truncate(logPath, off_t(length)) == 0 else { throw .io(path: logPath, reason: String(cString: strerror(errno))) }
    }

    private func write(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard writeAll(fd, bytes), fsync(fd) == 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = Foundation.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 { if errno == EINTR { continue } else { return false } }
                written += result
            }
            return true
        }
    }

    /// Makes the rename itself durable.
    private func syncDirectory() {
        let fd = open(directory, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

extension [UInt8] {
    fileprivate mutating func appendLittleEndian(_ value: UInt32) {
        for index in 0..<4 { append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    fileprivate mutating func appendLittleEndian(_ value: UInt64) {
        for index in 0..<8 { append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }
}
