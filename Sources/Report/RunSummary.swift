import FedCore
import Foundation
import Roles

/// `summary.json`: the figures a researcher compares runs by and an operator
/// checks the accounting with (applied + dropped stale + rejected = published).
public struct RunSummary: Codable, Sendable, Equatable {
    public var reachedTarget: Bool
    public var targetAccuracy: Double
    public var secondsToTarget: Double?
    public var updatesToTarget: Int?
    public var finalAccuracy: Double
    public var bestAccuracy: Double
    public var modelVersions: UInt64
    public var updatesPublished: Int
    public var updatesApplied: Int
    public var updatesDroppedStale: Int
    public var updatesRejected: Int
    public var rejectedByReason: [String: Int]
    public var clientsDropped: Int
    /// Updates the workers scaled down to their norm bound (`--clip`, `--dp-clip`).
    public var updatesClipped: Int = 0
    public var bytesPublished: Int
    public var meanStaleness: Double
    public var seconds: Double
    /// The run was stopped early (Ctrl-C, SIGTERM): its figures cover what happened until then.
    public var interrupted: Bool
    /// Differential privacy's spend (nil: the run was not private).
    public var privacy: PrivacySummary?
    /// Local differential privacy's spend by the clients (nil: off).
    public var localPrivacy: LocalPrivacySummary?
    /// Precision, recall and F1 of each class on the final model (runs on a table; nil on MNIST).
    public var perClass: [ClassMetrics]?

    public init(
        reachedTarget: Bool = false, targetAccuracy: Double = 0, secondsToTarget: Double? = nil,
        updatesToTarget: Int? = nil, finalAccuracy: Double = 0, bestAccuracy: Double = 0,
        modelVersions: UInt64 = 0, updatesPublished: Int = 0, updatesApplied: Int = 0,
        updatesDroppedStale: Int = 0, updatesRejected: Int = 0, rejectedByReason: [String: Int] = [:],
        clientsDropped: Int = 0, bytesPublished: Int = 0, meanStaleness: Double = 0, seconds: Double = 0,
        interrupted: Bool = false, privacy: PrivacySummary? = nil
    ) {
        self.privacy = privacy
        self.reachedTarget = reachedTarget
        self.targetAccuracy = targetAccuracy
        self.secondsToTarget = secondsToTarget
        self.updatesToTarget = updatesToTarget
        self.finalAccuracy = finalAccuracy
        self.bestAccuracy = bestAccuracy
        self.modelVersions = modelVersions
        self.updatesPublished = updatesPublished
        self.updatesApplied = updatesApplied
        self.updatesDroppedStale = updatesDroppedStale
        self.updatesRejected = updatesRejected
        self.rejectedByReason = rejectedByReason
        self.clientsDropped = clientsDropped
        self.bytesPublished = bytesPublished
        self.meanStaleness = meanStaleness
        self.seconds = seconds
        self.interrupted = interrupted
    }

    enum CodingKeys: String, CodingKey {
        case reachedTarget = "reached_target"
        case targetAccuracy = "target_accuracy"
        case secondsToTarget = "seconds_to_target"
        case updatesToTarget = "updates_to_target"
        case finalAccuracy = "final_accuracy"
        case bestAccuracy = "best_accuracy"
        case modelVersions = "model_versions"
        case updatesPublished = "updates_published"
        case updatesApplied = "updates_applied"
        case updatesDroppedStale = "updates_dropped_stale"
        case updatesRejected = "updates_rejected"
        case rejectedByReason = "rejected_by_reason"
        case clientsDropped = "clients_dropped"
        case updatesClipped = "updates_clipped"
        case bytesPublished = "bytes_published"
        case meanStaleness = "mean_staleness"
        case seconds
        case interrupted
        case perClass = "per_class"
    }

    /// Every key is always written: a target never reached is `null`, not a missing key,
    /// so scripts reading many summaries can index them alike.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reachedTarget, forKey: .reachedTarget)
        try container.encode(targetAccuracy, forKey: .targetAccuracy)
        try container.encode(secondsToTarget, forKey: .secondsToTarget)
        try container.encode(updatesToTarget, forKey: .updatesToTarget)
        try container.encode(finalAccuracy, forKey: .finalAccuracy)
        try container.encode(bestAccuracy, forKey: .bestAccuracy)
        try container.encode(modelVersions, forKey: .modelVersions)
        try container.encode(updatesPublished, forKey: .updatesPublished)
        try container.encode(updatesApplied, forKey: .updatesApplied)
        try container.encode(updatesDroppedStale, forKey: .updatesDroppedStale)
        try container.encode(updatesRejected, forKey: .updatesRejected)
        try container.encode(rejectedByReason, forKey: .rejectedByReason)
        try container.encode(clientsDropped, forKey: .clientsDropped)
        try container.encode(updatesClipped, forKey: .updatesClipped)
        try container.encode(bytesPublished, forKey: .bytesPublished)
        try container.encode(meanStaleness, forKey: .meanStaleness)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(interrupted, forKey: .interrupted)
        try container.encodeIfPresent(perClass, forKey: .perClass)
        try PrivacySummary.encode(privacy, to: encoder)
        try LocalPrivacySummary.encode(localPrivacy, to: encoder)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        reachedTarget = try container.decode(Bool.self, forKey: .reachedTarget)
        targetAccuracy = try container.decode(Double.self, forKey: .targetAccuracy)
        secondsToTarget = try container.decodeIfPresent(Double.self, forKey: .secondsToTarget)
        updatesToTarget = try container.decodeIfPresent(Int.self, forKey: .updatesToTarget)
        finalAccuracy = try container.decode(Double.self, forKey: .finalAccuracy)
        bestAccuracy = try container.decode(Double.self, forKey: .bestAccuracy)
        modelVersions = try container.decode(UInt64.self, forKey: .modelVersions)
        updatesPublished = try container.decode(Int.self, forKey: .updatesPublished)
        updatesApplied = try container.decode(Int.self, forKey: .updatesApplied)
        updatesDroppedStale = try container.decode(Int.self, forKey: .updatesDroppedStale)
        updatesRejected = try container.decode(Int.self, forKey: .updatesRejected)
        rejectedByReason = try container.decode([String: Int].self, forKey: .rejectedByReason)
        clientsDropped = try container.decode(Int.self, forKey: .clientsDropped)
        updatesClipped = try container.decodeIfPresent(Int.self, forKey: .updatesClipped) ?? 0
        bytesPublished = try container.decode(Int.self, forKey: .bytesPublished)
        meanStaleness = try container.decode(Double.self, forKey: .meanStaleness)
        seconds = try container.decode(Double.self, forKey: .seconds)
        interrupted = try container.decodeIfPresent(Bool.self, forKey: .interrupted) ?? false
        perClass = try container.decodeIfPresent([ClassMetrics].self, forKey: .perClass)
        privacy = try PrivacySummary.decode(from: decoder)
        localPrivacy = try LocalPrivacySummary.decode(from: decoder)
    }

    /// Pretty, key-sorted JSON, so summaries diff cleanly between runs.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
