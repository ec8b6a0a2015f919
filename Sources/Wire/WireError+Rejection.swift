extension WireError {
    /// The reason an update that failed to decode is settled under: the decoder's many
    /// checks map onto the few reasons operators count (``reasonCode`` stays as the detail).
    public var rejectionReason: RejectionReason {
        switch self {
        case .specHashMismatch, .parameterCountMismatch: .wrongModel
        case .nonFinite, .invalidScale: .nonFinite
        default: .malformed
        }
    }
}
