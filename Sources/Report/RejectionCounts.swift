/// Refused updates by reason (`RejectionReason.name` → count), spelled one way for every
/// summary line and report: sorted by name, "reason count" joined by commas, "none" when
/// nothing was refused.
public enum RejectionCounts {
    public static func text(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}
