// Learning's public API takes FedCore's seeded generator (initialisation, shuffling,
// partitions), so everyone who imports Learning sees it too.
@_exported import FedCore
