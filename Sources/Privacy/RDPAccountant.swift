/// The privacy spent by a run, as Rényi DP summed over every step at each order: RDP
/// composes by addition, so the state is one number per order, and a coordinator's
/// checkpoint keeps it (`Codable`) so a restart does not reset the spent budget.
///
/// A step is one application of the Poisson-subsampled Gaussian mechanism with its own
/// sampling rate (FedQueue: one applied aggregate, q = its updates / the population).
public struct RDPAccountant: Sendable, Codable, Equatable {
    /// The orders α: 1.25 … 4.5 in quarter and half steps, every integer 5 … 63, 128 and
    /// 256 (TensorFlow Privacy's long-standing default list). Small orders serve large
    /// budgets, large ones small budgets; the conversion picks the best.
    public static let defaultOrders: [Double] = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5]
        + (5...63).map(Double.init) + [128, 256]

    public let orders: [Double]
    /// Σ over steps of each step's RDP, one per order.
    public private(set) var rdp: [Double]
    /// Steps recorded.
    public private(set) var steps = 0

    public init(orders: [Double] = RDPAccountant.defaultOrders) {
        self.orders = orders
        rdp = [Double](repeating: 0, count: orders.count)
    }

    /// Records `count` steps of sampling rate `q` with noise multiplier `sigma`.
    public mutating func record(samplingRate q: Double, noiseMultiplier sigma: Double, steps count: Int = 1) {
        precondition((0...1).contains(q) && sigma >= 0 && count >= 0, "q in [0, 1], sigma >= 0, steps >= 0")
        let curve = SampledGaussianRDP.curve(q: q, sigma: sigma, orders: orders)
        for index in rdp.indices { rdp[index] += Double(count) * curve[index] }
        steps += count
    }

    /// The ε of (ε, δ)-DP spent so far, and the order that gives it.
    public func epsilon(delta: Double) -> (epsilon: Double, order: Double) {
        SampledGaussianRDP.epsilon(orders: orders, rdp: rdp, delta: delta)
    }

    private enum CodingKeys: String, CodingKey { case orders, rdp, steps }

    /// An order whose series did not converge holds +∞, which JSON cannot spell: it is
    /// written as null and read back as +∞.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        orders = try container.decode([Double].self, forKey: .orders)
        rdp = try container.decode([Double?].self, forKey: .rdp).map { $0 ?? .infinity }
        steps = try container.decode(Int.self, forKey: .steps)
        guard rdp.count == orders.count else {
            throw DecodingError.dataCorruptedError(forKey: .rdp, in: container, debugDescription: "one RDP value per order")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(orders, forKey: .orders)
        try container.encode(rdp.map { $0.isFinite ? $0 : nil }, forKey: .rdp)
        try container.encode(steps, forKey: .steps)
    }

    /// The ε spent once `count` more steps of rate `q` were recorded (the accountant is unchanged).
    public func epsilon(
        delta: Double, afterRecording q: Double, noiseMultiplier sigma: Double, steps count: Int = 1
    ) -> Double {
        var next = self
        next.record(samplingRate: q, noiseMultiplier: sigma, steps: count)
        return next.epsilon(delta: delta).epsilon
    }
}
