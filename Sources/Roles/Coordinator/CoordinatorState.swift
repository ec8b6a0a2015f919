import Aggregation
import FedCore
import Messaging
import Privacy

/// Everything the coordinator must get back after a crash to go on as if it
/// had not happened: the model and its version, the optimizer's moments, the
/// run's books and the ids already settled (so a redelivered partial is not
/// counted again), and on a stream updates path how far each shard was taken. What the
/// strategy buffers is not in it: those partials are not acknowledged yet, so the broker
/// hands them out again (and the stream ledger takes them again, `StreamLedger.held`).
public struct CoordinatorState: Sendable {
    public var model: GlobalModel
    public var optimizer: ServerOptimizer
    public var accounting: AggregationAccounting
    public var settledIDs: SettledIndex
    /// `strategy.description` when the state was written; a restart with another
    /// strategy is refused rather than silently mixing two runs.
    public var strategy: String
    /// Differential privacy's spent budget (nil: the run is not private): checkpointed, so
    /// a restart does not reset it.
    public var privacy: RDPAccountant?
    /// How far each stream shard was taken, and under which claim (empty on queue shards):
    /// checkpointed with the model it went into, so a restart judges redelivered partials
    /// and tells a new reader where to start exactly as before the crash.
    public var streams = StreamLedger()
    /// The average of the versions released so far, kept when a private run releases it at
    /// the end of its budget (`DifferentialPrivacy.finalAverageDecay`); nil otherwise.
    public var average: IterateAverage?
    /// Partials parked because they mixed counted and new updates, whose new updates the
    /// coordinator asked back from their workers (`PartialReturn`), until they come or their
    /// deadline passes.
    public var pendingReturns: [PendingReturn] = []
    /// The privacy budget is spent and the average went out as the last version: no
    /// aggregate is applied after it (checkpointed, so a restart does not reopen the budget).
    /// The same fact as the model's `isFinal`, which travels with it: one stored flag.
    public var budgetClosed: Bool {
        get { model.isFinal }
        set { model.isFinal = newValue }
    }

    public init(
        model: GlobalModel, optimizer: ServerOptimizer, accounting: AggregationAccounting = AggregationAccounting(),
        settledIDs: SettledIndex, strategy: String, privacy: RDPAccountant? = nil, streams: StreamLedger = StreamLedger()
    ) {
        self.privacy = privacy
        self.streams = streams
        self.model = model
        self.optimizer = optimizer
        self.accounting = accounting
        self.settledIDs = settledIDs
        self.strategy = strategy
    }
}
