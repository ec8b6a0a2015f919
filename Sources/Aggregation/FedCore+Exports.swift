// Aggregation's public API speaks FedCore's vocabulary (update ids, model versions,
// staleness, rejection reasons), so everyone who imports Aggregation sees those types too.
@_exported import FedCore
