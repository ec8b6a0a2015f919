import Aggregation
import FedCore
import Roles
import Foundation

/// `summary.json` of `fedq coordinator`: the accounting fields of `simulate`'s
/// summary. `updates_published` is null there: only the clients know what they
/// published (`FleetSummary`), and `fedq report` joins the two.
public struct CoordinatorSummary: Codable, Sendable {
    public var modelVersions: UInt64
    public var updatesApplied: Int
    public var updatesDroppedStale: Int
    public var updatesRejected: Int
    public var rejectedByReason: [String: Int]
    public var meanStaleness: Double
    public var stalenessHistogram: [Int]
    public var seconds: Double
    public var reconnects: Int
    /// Written at a clean shutdown (false while running, or after a crash).
    public var final: Bool
    public var updatesPublished: Int?
    /// Differential privacy's spend (nil: the run is not private). Written as `dp_*` keys;
    /// not read back (`fedq report` takes ε per version from the evaluator's history).
    public var privacy: PrivacySummary? = nil
    /// How the run aggregates, for the report's settings (absent in older summaries).
    public var model: String? = nil
    public var strategy: String? = nil
    public var serverOptimizer: String? = nil

    enum CodingKeys: String, CodingKey {
        case modelVersions, updatesApplied, updatesDroppedStale, updatesRejected, rejectedByReason, meanStaleness,
            stalenessHistogram, seconds, reconnects, final, updatesPublished, model, strategy, serverOptimizer
    }

    public init(
        model: GlobalModel, accounting: AggregationAccounting, seconds: Double, reconnects: Int, final: Bool,
        privacy: PrivacySummary? = nil
    ) {
        self.privacy = privacy
        modelVersions = model.version
        updatesApplied = accounting.applied
        updatesDroppedStale = accounting.droppedStale
        updatesRejected = accounting.rejectedTotal
        rejectedByReason = Dictionary(uniqueKeysWithValues: accounting.rejected.map { ($0.key.name, $0.value) })
        meanStaleness = accounting.meanStaleness
        stalenessHistogram = accounting.stalenessHistogram
        self.seconds = seconds
        self.reconnects = reconnects
        self.final = final
    }

    public var settled: Int { updatesApplied + updatesDroppedStale + updatesRejected }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(modelVersions, forKey: .modelVersions)
        try container.encode(updatesApplied, forKey: .updatesApplied)
        try container.encode(updatesDroppedStale, forKey: .updatesDroppedStale)
        try container.encode(updatesRejected, forKey: .updatesRejected)
        try container.encode(rejectedByReason, forKey: .rejectedByReason)
        try container.encode(meanStaleness, forKey: .meanStaleness)
        try container.encode(stalenessHistogram, forKey: .stalenessHistogram)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(reconnects, forKey: .reconnects)
        try container.encode(final, forKey: .final)
        try container.encodeIfPresent(model, forKey: .model)
        try container.encodeIfPresent(strategy, forKey: .strategy)
        try container.encodeIfPresent(serverOptimizer, forKey: .serverOptimizer)
        try PrivacySummary.encode(privacy, to: encoder)
        // Null rather than absent: the field is known to be unknown here.
        try container.encode(updatesPublished, forKey: .updatesPublished)
    }
}

/// `summary.json` of `fedq fleet` and `fedq client`.
public struct FleetSummary: Codable, Sendable {
    public var clients: Int
    public var updatesPublished: Int
    public var bytesPublished: Int
    public var clientsDropped: Int
    public var reconnects: Int
    public var seconds: Double
    /// The update codec the clients published with (absent in older summaries).
    public var codec: String? = nil
    /// Local trainings that diverged (NaN or overflow) and published nothing (absent in older summaries).
    public var trainingsDiverged: Int? = nil
    /// Under local DP, what the process's clients spent. Written as `ldp_*` keys (null when
    /// off); `DeploymentRun` reads them back (`LocalPrivacyKeys`).
    public var localPrivacy: LocalPrivacySummary? = nil

    enum CodingKeys: String, CodingKey {
        case clients, updatesPublished, bytesPublished, clientsDropped, reconnects, seconds, codec, trainingsDiverged
    }

    public init(clients: Int, updatesPublished: Int, bytesPublished: Int, clientsDropped: Int, reconnects: Int, seconds: Double) {
        self.clients = clients
        self.updatesPublished = updatesPublished
        self.bytesPublished = bytesPublished
        self.clientsDropped = clientsDropped
        self.reconnects = reconnects
        self.seconds = seconds
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(clients, forKey: .clients)
        try container.encode(updatesPublished, forKey: .updatesPublished)
        try container.encode(bytesPublished, forKey: .bytesPublished)
        try container.encode(clientsDropped, forKey: .clientsDropped)
        try container.encode(reconnects, forKey: .reconnects)
        try container.encode(seconds, forKey: .seconds)
        try container.encodeIfPresent(codec, forKey: .codec)
        try container.encodeIfPresent(trainingsDiverged, forKey: .trainingsDiverged)
        try LocalPrivacySummary.encode(localPrivacy, to: encoder)
    }
}

/// Why a deployment's outputs could not be read.
public enum DeploymentRunError: Error, CustomStringConvertible {
    case missing(String)
    case unreadable(String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path): "\(path) is missing: is this a directory with coordinator/, fleet/ and eval/ outputs?"
        case .unreadable(let path, let reason): "\(path): \(reason)"
        }
    }
}

/// A run of separate role processes, read back from the directory they wrote into
/// (`coordinator/`, `fleet/`, `eval/`, as `scripts/demo.sh --rabbitmq` lays it out),
/// as the same result a simulation produces, so it gets the same report.
public enum DeploymentRun {
    public static func load(directory: String, targetAccuracy: Double) throws -> RunResult {
        let coordinator: CoordinatorSummary = try decode(directory + "/coordinator/summary.json")
        let fleet: FleetSummary = try decode(directory + "/fleet/summary.json")
        let history = try HistoryCSV.parse(try read(directory + "/eval/history.csv"))
        let records = try read(directory + "/coordinator/updates.csv").split(separator: "\n").compactMap(SettlementRecord.init(line:))
        let reached = history.first { $0.accuracy >= targetAccuracy }
        var summary = RunSummary(
            reachedTarget: reached != nil, targetAccuracy: targetAccuracy, secondsToTarget: reached?.seconds,
            updatesToTarget: reached.map { target in records.filter { $0.disposition == .applied && $0.version <= target.version }.count },
            finalAccuracy: history.last?.accuracy ?? 0, bestAccuracy: history.map(\.accuracy).max() ?? 0,
            modelVersions: coordinator.modelVersions, updatesPublished: fleet.updatesPublished,
            updatesApplied: coordinator.updatesApplied, updatesDroppedStale: coordinator.updatesDroppedStale,
            updatesRejected: coordinator.updatesRejected, rejectedByReason: coordinator.rejectedByReason,
            clientsDropped: fleet.clientsDropped, bytesPublished: fleet.bytesPublished,
            meanStaleness: coordinator.meanStaleness, seconds: coordinator.seconds)
        // The evaluator's last row: the per-class figures of the last version it saw.
        summary.perClass = history.last?.perClass
        summary.localPrivacy = try decode(directory + "/fleet/summary.json", keys: .useDefaultKeys, as: LocalPrivacyKeys.self).summary
        var result = RunResult(
            summary: summary, history: history, throughput: throughput(records), stalenessHistogram: coordinator.stalenessHistogram,
            settings: [
                ("run", "separate processes over RabbitMQ"), ("directory", directory), ("clients", "\(fleet.clients)"),
                ("model", coordinator.model ?? "not recorded"), ("strategy", coordinator.strategy ?? "not recorded"),
                ("server optimizer", coordinator.serverOptimizer ?? "not recorded"), ("codec", fleet.codec ?? "not recorded"),
                ("coordinator reconnects", "\(coordinator.reconnects)"), ("fleet reconnects", "\(fleet.reconnects)"),
            ])
        result.title = "FedQueue deployment: separate processes over RabbitMQ"
        return result
    }

    /// Applied updates per second, in one-second buckets from the first settlement.
    static func throughput(_ records: [SettlementRecord]) -> [(x: Double, y: Double)] {
        let applied = records.filter { $0.disposition == .applied }.map(\.time)
        guard let start = applied.min(), let end = applied.max() else { return [] }
        return RateSeries.perSecond(applied, from: start, to: end, bucket: 1)
    }

    private static func read(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw DeploymentRunError.missing(path) }
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw DeploymentRunError.unreadable(path, reason: error.localizedDescription)
        }
    }

    /// The fleet's `ldp_*` keys, read as written: the rest of its summary is read from snake
    /// case, which would turn them into keys `LocalPrivacySummary` does not know.
    private struct LocalPrivacyKeys: Decodable {
        let summary: LocalPrivacySummary?
        init(from decoder: any Decoder) throws { summary = try LocalPrivacySummary.decode(from: decoder) }
    }

    private static func decode<T: Decodable>(
        _ path: String, keys: JSONDecoder.KeyDecodingStrategy = .convertFromSnakeCase, as type: T.Type = T.self
    ) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = keys
        do { return try decoder.decode(T.self, from: Data(try read(path).utf8)) } catch let error as DeploymentRunError {
            throw error
        } catch {
            throw DeploymentRunError.unreadable(path, reason: "\(error)")
        }
    }
}
