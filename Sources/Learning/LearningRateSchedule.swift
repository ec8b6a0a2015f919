import Foundation

/// How centralised training (`fedq train`) sets the learning rate of each
/// epoch. Cosine decay ends a run at small steps, which settles the model
/// into a minimum instead of leaving it to bounce at the full rate: the
/// McMahan CNN gains a few tenths of a point of test accuracy in 5 epochs.
public enum LearningRateSchedule: String, Sendable, CaseIterable {
    case constant
    /// `base × (1 + cos(π × (epoch − 1) / epochs)) / 2`: the first epoch at
    /// `base`, each later one lower, the last at `base × (1 − cos(π / epochs)) / 2`.
    case cosine

    /// The rate of `epoch` (1-based) of `epochs`.
    public func rate(epoch: Int, of epochs: Int, base: Float) -> Float {
        switch self {
        case .constant: base
        case .cosine: base * Float((1 + cos(Double.pi * Double(epoch - 1) / Double(max(epochs, 1)))) / 2)
        }
    }
}
