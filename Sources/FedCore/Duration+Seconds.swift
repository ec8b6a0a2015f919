extension Duration {
    /// As a floating-point number of seconds, for rates and reports.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }
}
